"""TreeMS (Niu et al., WSDM'21): tree node sharing, path-only gates, unseen leaves, the inconsistency loss,
scenario-aware attention, the switches, and a real ``unisr train`` run on a simulated marketplace."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from share_synth import VIEWS, check_share_model, neighbours_matter, share_batch, share_schema
from unisr.models.registry import build_model
from unisr.models.treems import TreeMS, ViewAttention, expert_tower, inconsistency_loss, tree_vocabulary

# scenarios 0 and 1 share r/a; scenario 2 is a leaf under r/b; scenario 3 is the inner node r/b itself
TREE = [["r", "r/a", "r/a/x"], ["r", "r/a", "r/a/y"], ["r", "r/b", "r/b/z"], ["r", "r/b"]]


def tree_schema():
    s = share_schema(len(TREE))
    s.tree_paths = [list(p) for p in TREE]
    return s


def build(**params) -> TreeMS:
    torch.manual_seed(0)
    return build_model("treems", {"sparse_grad": False, "fanouts": [3, 2], "hidden": [32, 16], "expert_dim": 24,
                                  **params}, tree_schema())


def batch(n: int = 32, seed: int = 0, scenarios=None):
    return share_batch(tree_schema(), n, seed=seed, scenarios=scenarios)


def scen(s: int, n: int = 16) -> torch.Tensor:
    return torch.full((n,), s, dtype=torch.long)


# ----------------------------------------------------------------------------------------------- shapes
def test_shapes_gradients_masks_and_routing_flat():
    """The baselines' checks (every parameter gets a gradient, masked slots change nothing) in flat mode."""
    check_share_model("treems", use_tree=False, expert_dim=24)


def test_shapes_and_gradients_tree():
    net = build()
    b = batch()
    out = net(b)
    assert out["click"].shape == (32,) and out["gates"].shape == (32, 3, 8)
    assert torch.allclose(out["gates"].sum(-1), torch.ones(32, 3))
    loss = torch.nn.functional.binary_cross_entropy_with_logits(out["click"], b.labels["click"])
    loss = loss + sum(net.extra_losses(b, out).values())
    loss.backward()
    unused = {"input.scenario_emb.weight"}  # the baselines' flat c; the tree mode uses h_H^s instead
    for name, p in net.named_parameters():
        if name in unused:
            continue
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert neighbours_matter(net)


def test_expert_towers_have_tree_depth_layers_and_shrink():
    net = build()
    assert net.tree.depth == 3 and len(net.experts.dims) == 3
    assert net.experts.dims == expert_tower(24, 3) == [24, 18, 12]
    with pytest.raises(ValueError, match="tower"):
        build(expert_dims=[8, 16, 8])
    with pytest.raises(ValueError, match="depth"):
        build(expert_dims=[16, 8])


# ------------------------------------------------------------------------------------------ tree sharing
def test_tree_nodes_embedded_once_and_shared():
    names, paths = tree_vocabulary(tree_schema())
    assert names == ["<pad>", "r", "r/a", "r/a/x", "r/a/y", "r/b", "r/b/z"]
    assert paths[0][:2] == paths[1][:2] and paths[3] == [1, 5]
    net = build()
    tables = [m for m in net.tree.modules() if isinstance(m, torch.nn.Embedding)]
    assert len(tables) == 1 and tables[0].num_embeddings == len(names)  # one row per node, not per scenario
    # scenario 3's path (depth 2) is padded with its own last node
    assert net.tree.paths[3].tolist() == [1, 5, 5]
    # a batch of scenario 0 only: gradient on the rows of r, r/a, r/a/x (shared r/a is ONE parameter row that
    # scenario 1 also reads), none on r/a/y, r/b, r/b/z
    net(batch(16, seed=1, scenarios=scen(0)))["click"].sum().backward()
    g = net.tree.nodes.weight.grad.abs().sum(1)
    assert (g[[1, 2, 3]] > 0).all() and (g[[4, 5, 6]] == 0).all()
    # editing the shared row changes both scenarios' path states (and so their gates), not the others'
    net.eval()
    with torch.no_grad():
        before = net.tree.states(torch.arange(4))
        net.tree.nodes.weight[2] += 1.0
        after = net.tree.states(torch.arange(4))
        assert torch.allclose(before[:, 0], after[:, 0])  # the root's state is before r/a
        assert not torch.allclose(before[0, 1:], after[0, 1:]) and not torch.allclose(before[1, 1:], after[1, 1:])
        assert torch.allclose(before[2], after[2]) and torch.allclose(before[3], after[3])


def test_gate_of_layer_i_depends_on_path_only_through_lstm_state():
    net = build()
    with torch.no_grad():
        for g in net.tree.gates:
            torch.nn.init.normal_(g.weight)
        h = net.tree.states(torch.arange(4))
        gates = net.tree.gate_probs(h)
        for i, lin in enumerate(net.tree.gates):  # eq. 6 exactly, W_i per layer only
            assert torch.allclose(gates[:, i], torch.softmax(lin(h[:, i]), -1), atol=1e-6)
        # changing the other layers' states leaves gate i unchanged
        for i in range(3):
            h2 = h.clone()
            others = [j for j in range(3) if j != i]
            h2[:, others] = torch.randn_like(h2[:, others])
            assert torch.allclose(net.tree.gate_probs(h2)[:, i], gates[:, i])
        # two different paths with the same LSTM state get the same gate
        h3 = h.clone()
        h3[1, 2] = h3[0, 2]
        g3 = net.tree.gate_probs(h3)
        assert torch.allclose(g3[0, 2], g3[1, 2])
        # the gates do not depend on the sample (only on its scenario)
        b1, b2 = batch(8, seed=3, scenarios=scen(2, 8)), batch(8, seed=4, scenarios=scen(2, 8))
        assert torch.allclose(net(b1)["gates"], net(b2)["gates"])


def test_unseen_leaf_predicted_through_its_ancestors():
    net = build()
    opt = torch.optim.Adagrad(net.parameters(), lr=0.05)
    for step in range(3):  # train on scenarios 0, 1 and 3 only: the leaf r/b/z (scenario 2) is never seen
        b = batch(24, seed=10 + step, scenarios=torch.tensor([0, 1, 3] * 8))
        out = net(b)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(out["click"], b.labels["click"])
        opt.zero_grad()
        (loss + sum(net.extra_losses(b, out).values())).backward()
        opt.step()
    seen = net.tree.seen
    assert seen[[1, 2, 3, 4, 5]].all() and not seen[6]
    net.eval()
    assert net.tree.effective_paths(torch.tensor([2])).tolist() == [[1, 5, 5]]  # r -> r/b -> r/b
    with torch.no_grad():
        b = batch(16, seed=20, scenarios=scen(2))
        p_unseen = net(b)["click"]
        assert torch.isfinite(p_unseen).all()
        b3 = copy.deepcopy(b)
        b3.scenario_id = scen(3)  # the inner node r/b itself: the same path after the mapping
        assert torch.allclose(p_unseen, net(b3)["click"])
    net.train()  # training uses the leaf's own (fresh) embedding
    assert net.tree.effective_paths(torch.tensor([2])).tolist() == [[1, 5, 6]]


# -------------------------------------------------------------------------------------- inconsistency
def test_inconsistency_loss_hand_computed():
    g = torch.tensor([[[0.5, 0.3, 0.2], [1.0, 0.0, 0.0]],
                      [[1 / 3, 1 / 3, 1 / 3], [0.6, 0.4, 0.0]]])  # [B=2, H=2, n=3]
    # sample 0: -(0.15 + 0.10 + 0.06) - 0 = -0.31; sample 1: -(3 * 1/9) - (0.24) = -0.5733...
    want = (-0.31 + -(1 / 3 + 0.24)) / 2
    assert float(inconsistency_loss(g)) == pytest.approx(want, abs=1e-6)
    net = build(gamma=0.5)
    b = batch(8, scenarios=scen(0, 8))
    out = net(b)
    assert float(net.extra_losses(b, out)["inconsistency"].detach()) == pytest.approx(
        0.5 * float(inconsistency_loss(out["gates"].detach())))
    assert float(net.extra_losses(b, {"click": out["click"]})["inconsistency"].detach()) == pytest.approx(
        float(net.extra_losses(b, out)["inconsistency"].detach()))  # gates recomputed when absent


def test_inconsistency_loss_pushes_gates_toward_balance():
    net = build(gamma=1.0)
    with torch.no_grad():  # start with one dominating expert in every layer
        for g in net.tree.gates:
            g.bias.copy_(torch.tensor([4.0] + [0.0] * 7))
    b = batch(16, scenarios=scen(0))

    def max_gate() -> float:
        return float(net(b)["gates"].detach().max(-1).values.mean())

    start = max_gate()
    opt = torch.optim.Adagrad(net.tree.parameters(), lr=0.1)
    for _ in range(10):
        opt.zero_grad()
        net.extra_losses(b, net(b))["inconsistency"].backward()
        opt.step()
    end = max_gate()
    assert start > 0.85 and end < start - 0.2
    # the optimum is the uniform gate: L_aux = -H * (1 - 1/n) / 2
    uni = torch.full((1, 3, 8), 1 / 8)
    assert float(inconsistency_loss(uni)) == pytest.approx(-3 * (1 - 1 / 8) / 2)


# ------------------------------------------------------------------------------------------- attention
def test_context_changes_attention_weights():
    torch.manual_seed(0)
    att = ViewAttention(dim=4, context_dim=3, layers=1)
    center = torch.randn(2, 1, 4)
    children = torch.randn(2, 1, 5, 4)
    mask = torch.tensor([[[True, True, True, False, True]]] * 2)
    c1, c2 = torch.zeros(2, 3), torch.ones(2, 3) * 3
    a1, a2 = att.attention(center, children, mask, c1, 0), att.attention(center, children, mask, c2, 0)
    assert torch.allclose(a1.sum(-1), torch.ones(2, 1)) and (a1[..., 3] == 0).all()
    assert not torch.allclose(a1, a2)  # LeakyReLU makes c matter inside the softmax
    empty = att.attention(center, children, torch.zeros_like(mask), c1, 0)
    assert (empty == 0).all()
    # and in the model: the scenario context reaches the attention (same users, other scenario)
    net = build(use_tree=True)
    net.eval()
    with torch.no_grad():
        for t in net.input.user_emb.tables:  # distinguishable users (the 1e-4 init makes them all ~0)
            torch.nn.init.normal_(t.weight)
        b = batch(8, seed=3, scenarios=scen(0, 8))
        c0 = net.tree(torch.tensor([0]))[1].expand(8, -1)
        c1_ = net.tree(torch.tensor([2]))[1].expand(8, -1)
        seed = net.input.users(b.subgraph.src_seed_feat)
        assert not torch.allclose(net.graph_user(b.subgraph, "src", seed, c0),
                                  net.graph_user(b.subgraph, "src", seed, c1_))


# --------------------------------------------------------------------------------------------- switches
def test_each_switch_changes_the_computation():
    full = build()
    b = batch(16, seed=7)
    full.eval()
    ref = full(b)["click"].detach()

    flat = build(use_tree=False)
    assert not hasattr(flat.tree, "nodes") and not hasattr(flat.tree, "lstm")
    assert flat.tree.flat is flat.input.scenario_emb  # the baselines' flat scenario embedding gates
    flat.eval()
    assert not torch.allclose(flat(b)["click"], ref)

    nograph = build(use_graph=False)
    assert not hasattr(nograph, "gat") and nograph.x_dim < full.x_dim
    assert not neighbours_matter(nograph) and neighbours_matter(full)

    noinc = build(use_inconsistency=False)
    assert noinc.extra_losses(b, noinc(b)) == {}
    assert set(full.extra_losses(b, full(b))) == {"inconsistency"}

    one_view = build(views=["friend"])
    assert one_view.views == ["friend"] and one_view.x_dim < full.x_dim
    b1 = batch(16, seed=7)
    b1.subgraph.views = {v: hoods for v, hoods in b1.subgraph.views.items() if v not in VIEWS[1:]}
    one_view.eval()
    assert torch.isfinite(one_view(b1)["click"]).all()  # other views' keys are not read


def test_needs_the_social_hook():
    net = build()
    b = batch(4)
    b.subgraph = {}
    with pytest.raises(ValueError, match="model TreeMS needs batch.subgraph: a SocialSubgraph from the graph:social"):
        net(b)


def test_checks_of_the_baselines_with_graph_off():
    net = check_share_model("treems", use_tree=False, use_graph=False, expert_dim=24)
    assert not neighbours_matter(net)


# ------------------------------------------------------------------------------------------- real run
def test_unisr_train_treems_on_share_scenarios(sim_dir: Path, tmp_path: Path):
    exe = Path(sys.executable).parent / "unisr"
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run([str(exe), "train", "--model", "treems", "--data", str(sim_dir), "--out", str(out),
                        "--set", "train.threads=1", "--set", "train.epochs=1", "--set", "train.progress=false",
                        "--set", f"data.graph_dir={tmp_path / 'graph'}", "--set", "data.batch_size=256"],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    m = json.loads((out / "metrics.json").read_text())
    test = m.get("test", m)
    overall = test["overall"]
    for k in ("auc", "gauc", "mrr", "hr@5", "hr@10"):
        assert k in overall and 0.0 <= overall[k] <= 1.0, k
    assert test["scenarios"] and all(name.startswith("share") for name in test["scenarios"])
    assert (out / "model.safetensors").exists()
    # the run trained with the directed pair history (issue 33) and loads back; a config written before
    # ``pair_mode`` existed reads back as the symmetric flags it was trained with
    import yaml

    from unisr.pipeline.run_folder import load_run, read_config

    cfg, _, net = load_run(out)
    assert cfg.model_params["pair_mode"] == "directed" and net.input.pair_dim == 4 * len(net.input.pair_views)
    raw = yaml.safe_load((out / "config.yaml").read_text())
    del raw["model"]["pair_mode"]
    old = tmp_path / "old"
    old.mkdir()
    (old / "config.yaml").write_text(yaml.safe_dump(raw))
    assert read_config(old).model_params["pair_mode"] == "symmetric"


def test_he_init_of_the_relu_stacks_keeps_gates_uniform_and_spreads_the_logits():
    """``init=he`` (the default) re-initialises experts, MLP and prediction layer; the gates stay zero."""
    he, default = build(), build(init="torch")
    w0 = he.experts.weights[0]
    assert abs(float(w0.std()) - (2 / w0.shape[1]) ** 0.5) < 0.02
    assert torch.count_nonzero(he.experts.biases[0]) == 0
    bound = 1 / w0.shape[1] ** 0.5
    assert float(default.experts.weights[0].abs().max()) <= bound
    for g in he.tree.gates:
        assert torch.count_nonzero(g.weight) == 0
    b = batch(256)
    he.eval()
    default.eval()
    with torch.no_grad():
        assert float(he(b)["click"].std()) > 5 * float(default(b)["click"].std())


def test_node_init_std_sets_the_scale_of_the_tree_node_embeddings():
    big, small = build(node_init_std=1.0), build(node_init_std=0.1)
    assert 0.6 < float(big.tree.nodes.weight.std()) < 1.4
    assert 0.06 < float(small.tree.nodes.weight.std()) < 0.14
    b = batch(64)
    big.eval()
    small.eval()
    with torch.no_grad():
        h_big = big.tree(torch.arange(len(TREE)))[1]
        h_small = small.tree(torch.arange(len(TREE)))[1]
    assert float(h_big.std(0).mean()) > float(h_small.std(0).mean())  # scenarios' contexts differ more
    assert torch.isfinite(big(b)["click"]).all()


# ------------------------------------------------------------------------------------- c inside x (eq. 3)
@pytest.mark.parametrize("in_x", [True, False])
def test_context_in_x_follows_eq3_and_the_switch_removes_it(in_x: bool):
    """Eq. 3 puts c in x (default); ``context_in_x=False``: the experts' input no longer depends on the scenario
    (without the graph, whose attention also reads c), only the gates do."""
    net = build(context_in_x=in_x, use_graph=False)
    ref = build(use_graph=False)
    assert ref.x_dim - net.x_dim == (0 if in_x else net.context_dim)
    with torch.no_grad():
        for g in net.tree.gates:
            g.weight.normal_()
    b = batch(16, scenarios=scen(0))
    b2 = copy.deepcopy(b)
    b2.scenario_id = scen(2)
    x, gates = net.expert_input(b)
    x2, gates2 = net.expert_input(b2)
    assert not torch.allclose(gates, gates2)  # the gates see the scenario either way
    assert torch.equal(x, x2) != in_x
    out = net(b)["click"]
    out.sum().backward()
    assert net.tree.nodes.weight.grad is not None and float(net.tree.nodes.weight.grad.abs().sum()) > 0
