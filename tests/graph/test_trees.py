"""The sampled trees of the GNN baselines as one graph (graph/trees.py:build_trees), and a
real ``unisr train`` run of one of them."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import srj_tree_cases as cases
from unisr.graph.trees import ITEM_CLICKED_BY, USER_CLICKS, build_trees

UNISR = str(Path(sys.executable).parent / "unisr")


def reference_nodes(sub, b: int) -> tuple[list, dict]:
    """Per-sample loops (the slow obvious way): the nodes that reach their seed in hop-major order, and each
    one's parent."""
    nodes, parent = [], {}
    sides = (("user", "user", cases.UW), ("item", "item", cases.IW))
    for h in range(max(len(cases.UW), len(cases.IW)) + 1):
        for side, seed, widths in sides:
            if h > len(widths):
                continue
            t = seed if h % 2 == 0 else ("item" if seed == "user" else "user")
            w = 1
            for f in widths[:h]:
                w *= f
            for s in range(b):
                for j in range(w):
                    ok, jj = True, j
                    for k in range(h, 0, -1):  # the node and all its precursors present
                        ok &= bool(sub.hops(side)[k - 1].mask[s, jj])
                        jj //= widths[k - 1]
                    if not ok:  # a padded slot or a node under one never reaches the seed: not a node
                        continue
                    nodes.append((side, h, s, j, t))
                    if h > 0:
                        parent[(side, h, s, j)] = (side, h - 1, s, j // widths[h - 1])
    return nodes, parent


def test_edges_match_a_per_sample_reference():
    b = 3
    sub = cases.subgraph(b, torch.Generator().manual_seed(1), p_mask=0.6)
    trees = build_trees(sub)
    assert sub.widths("user") == cases.UW and sub.widths("item") == cases.IW
    nodes, parent = reference_nodes(sub, b)
    index = {n[:4]: i for i, n in enumerate(nodes)}
    want = sorted((index[c], index[p]) for c, p in parent.items())
    got = sorted(map(tuple, trees.edge_index.t().tolist()))
    assert got == want
    assert trees.n_upto[-1] == len(nodes)
    # seeds first: user b, then item b
    assert [nodes[i][:4] for i in range(2 * b)] == [("user", 0, s, 0) for s in range(b)] + \
        [("item", 0, s, 0) for s in range(b)]
    # edge prefixes: edges up to e_upto[h] are exactly those whose child has hop <= h
    hop = torch.tensor([n[1] for n in nodes])
    for h, e in enumerate(trees.e_upto):
        assert (hop[trees.edge_index[0, :e]] <= h).all() and (hop[trees.edge_index[0, e:]] > h).all()
        assert (hop <= h).sum() == trees.n_upto[h]
    # typed numbering: the homogeneous edges, relabelled per type, are the hetero edges
    typed = {}
    count = {"user": 0, "item": 0}
    for n in nodes:
        typed[index[n[:4]]] = count[n[4]]
        count[n[4]] += 1
    for et in (USER_CLICKS, ITEM_CLICKED_BY):
        hom = [(typed[c], typed[p]) for c, p in want if nodes[c][4] == et[0]]
        assert sorted(map(tuple, trees.hetero_edges[et].t().tolist())) == sorted(hom)
    # undirected tree degree: children + parent
    deg = trees.tree_degree()
    for i in range(len(nodes)):
        expect = sum(p == i for _, p in want) + any(c == i for c, _ in want)
        assert deg[i] == max(expect, 1)


def test_all_masked_gives_no_edges():
    sub = cases.subgraph(2, torch.Generator().manual_seed(0), empty=True)
    trees = build_trees(sub)
    assert trees.edge_index.shape == (2, 0)
    assert all(e.shape == (2, 0) for e in trees.hetero_edges.values())


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from unisr.simulate.api import resolve_config, simulate_config

    out = tmp_path_factory.mktemp("sim_gnn")
    simulate_config(resolve_config("tiny", ["n_events=20000"]), out, 0, "tiny", None, None)
    return out


def test_unisr_train_gat_single_scenario(sim: Path, tmp_path: Path):
    """A real run of the console script: the hook samples, the model trains and is evaluated (CONTRACT.md)."""
    run = tmp_path / "run"
    sets = ["train.threads=1", "train.epochs=1", "train.max_steps_per_epoch=2", "train.progress=false",
            "data.batch_size=256", "data.scenarios=[search_text]", "model.user_widths=[5,1,3]",
            "model.item_widths=[1,5,1]", f"data.graph_dir={tmp_path / 'graph'}"]
    args = [UNISR, "train", "--model", "gat", "--data", str(sim), "--out", str(run)]
    for s in sets:
        args += ["--set", s]
    p = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    m = json.loads((run / "metrics.json").read_text())
    assert m["model"] == "gat" and list(m["scenarios"]) == ["search_text"]
    assert 0.0 <= m["scenarios"]["search_text"]["auc"] <= 1.0 and m["scenarios"]["search_text"]["n"] > 0
    assert (run / "model.safetensors").exists()
