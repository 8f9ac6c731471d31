"""SRJGraph: shapes and masking of each equation, the empty query, the ablation switches, search/rec heads."""

import copy

import pytest
import torch

from synth import random_batch, tiny_schema
from unisr.data.features import SequenceField
from unisr.models.registry import build_model
from unisr.models.srjgraph import QueryEmbedding

UW, IW = [3, 1, 2], [1, 3, 1]
LQ = 4


def schema():
    s = tiny_schema(3)
    s.sequences = [SequenceField("query_tokens", "queries", 20, LQ, 8)]
    s.scenario_kinds = ["search_text", "recommend", "recommend"]
    return s


def subgraph(b: int, g: torch.Generator, empty: bool = False) -> dict:
    """A hand-made sample in the layout of SRJGraphHook: users have 1 field (vocab 50), items 2 (40, 6)."""
    feats = {"user": lambda *sh: torch.randint(0, 50, (*sh, 1), generator=g),
             "item": lambda *sh: torch.stack([torch.randint(0, 40, sh, generator=g),
                                              torch.randint(0, 6, sh, generator=g)], -1)}
    sub = {"srj_user.seed_feat": feats["user"](b), "srj_item.seed_feat": feats["item"](b)}
    for side, widths, kind in (("srj_user", UW, "user"), ("srj_item", IW, "item")):
        w, prev = 1, kind
        for k, f in enumerate(widths):
            w *= f
            node = "item" if prev == "user" else "user"
            h = f"{side}.hop{k + 1}"
            sub[f"{h}.feat"], sub[f"{h}.pre_feat"] = feats[node](b, w), feats[prev](b, w)
            sub[f"{h}.qtok"] = torch.randint(0, 20, (b, w, LQ), generator=g) * (torch.rand(b, w, 1, generator=g) < 0.5)
            sub[f"{h}.mask"] = torch.zeros(b, w, dtype=torch.bool) if empty else torch.rand(b, w, generator=g) < 0.8
            prev = node
    return sub


def batch(b: int = 6, seed: int = 0, empty: bool = False):
    g = torch.Generator().manual_seed(seed)
    s = schema()
    bt = random_batch(s, b, seed=seed)
    tok = torch.randint(1, 20, (b, LQ), generator=g) * (bt.scenario_id == 0).long().unsqueeze(1)
    bt.sequences["query_tokens"] = (tok, tok > 0)
    bt.subgraph = subgraph(b, g, empty)
    return bt


def model(**kw):
    torch.manual_seed(0)
    return build_model("srjgraph", {"user_widths": UW, "item_widths": IW, "sparse_grad": False, **kw}, schema())


def test_shapes_and_gradients():
    net = model()
    b = batch()
    out = net(b)["click"]
    assert out.shape == (6,) and torch.isfinite(out).all()
    out.sum().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None, name


def test_empty_neighbourhoods_are_masked():
    net = model().eval()
    b = batch(empty=True)
    out = net(b)["click"]
    assert torch.isfinite(out).all()
    b2 = copy.deepcopy(b)
    for k, v in b2.subgraph.items():  # change every neighbour: nothing may leak through the mask
        if k.endswith(".feat") and "hop" in k:
            b2.subgraph[k] = (v + 1) % 6
    assert torch.allclose(net(b2)["click"], out)


def test_empty_query_uses_reserved_term():
    q = QueryEmbedding(20, 8, sparse=False)
    tok = torch.tensor([[0, 0, 0, 0], [3, 5, 0, 0]])
    e = q(tok)
    assert torch.allclose(e[0], 4 * q.table.weight[20])  # padded to full length with the reserved id
    assert torch.allclose(e[1], q.table.weight[3] + q.table.weight[5])  # sum pooling (eq. 3)


def _side(net, b):
    e_u = net.user_emb(b.subgraph["srj_user.seed_feat"])
    e_p = net.item_emb(b.subgraph["srj_item.seed_feat"])
    e_q = net.query_emb(b.sequences["query_tokens"][0])
    return net._side(b.subgraph, "srj_user", "user", e_u, e_q, e_p, torch.cat([e_u, e_q, e_p], -1))


def dense_side(net, sub, side, seed_kind, e_u, e_q, e_p, e_i):
    """Reference: eq. 7 over every padded slot of the tree, [B, W_h] at each hop (the layout of the hook)."""
    widths = net.widths[side]
    kinds, k = [], seed_kind
    for _ in widths:
        k = "item" if k == "user" else "user"
        kinds.append(k)
    e0, masks = [], []
    for h, kind in enumerate(kinds):
        p = f"{side}.hop{h + 1}"
        pre_kind = seed_kind if h == 0 else kinds[h - 1]
        e0.append(net._upstream(net._entity(pre_kind, sub[f"{p}.pre_feat"]), net.query_emb(sub[f"{p}.qtok"]),
                                net._entity(kind, sub[f"{p}.feat"]), kind))
        masks.append(sub[f"{p}.mask"])
    seed_e0 = net._upstream(e_p if seed_kind == "user" else e_u, e_q, e_u if seed_kind == "user" else e_p, seed_kind)
    reps, b = e0[-1], e_u.shape[0]
    for level, h in enumerate(range(len(widths) - 1, -1, -1)):
        center = seed_e0.unsqueeze(1) if h == 0 else e0[h - 1]
        w_h, f = center.shape[1], widths[h]
        query = net.w_n[level](center)
        if net.w_e is not None:
            query = query + net.w_e[level](e_i).unsqueeze(1)
        reps = net.units[level](query.reshape(b * w_h, -1), center.reshape(b * w_h, -1),
                                reps.reshape(b * w_h, f, -1), masks[h].reshape(b * w_h, f)).reshape(b, w_h, -1)
    return reps[:, 0]


@pytest.mark.parametrize("empty", [False, True])
@pytest.mark.parametrize("flags", [{}, {"intention": False}, {"upstream": False}])
def test_reachable_node_aggregation_equals_dense(flags, empty):
    """The model aggregates only the nodes that reach the seed; every padded slot and every node under a
    padded parent gets weight 0 in the dense computation, so outputs and all gradients must agree."""
    b = batch(8, seed=3, empty=empty)
    if not empty:  # some present parents too, and a sample with a full tree
        for k in b.subgraph:
            if k.endswith(".mask"):
                b.subgraph[k][0] = True
    results = []
    for side_fn in (None, dense_side):
        net = model(**flags)
        with torch.no_grad():  # non-zero attention biases, so that the bias terms are exercised too
            for unit in net.units:
                unit.attn.in_proj_bias.normal_()
        e_u = net.user_emb(b.subgraph["srj_user.seed_feat"])
        e_p = net.item_emb(b.subgraph["srj_item.seed_feat"])
        e_q = net.query_emb(b.sequences["query_tokens"][0])
        e_i = torch.cat([e_u, e_q, e_p], -1)
        out = []
        for side, kind in (("srj_user", "user"), ("srj_item", "item")):
            args = (b.subgraph, side, kind, e_u, e_q, e_p, e_i)
            out.append(net._side(*args) if side_fn is None else side_fn(net, *args))
        out = torch.cat(out, -1)
        (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
        results.append((out.detach(), {n: p.grad for n, p in net.named_parameters() if p.grad is not None}))
    (fast, g_fast), (ref, g_ref) = results
    assert torch.allclose(fast, ref, atol=1e-5)
    assert g_fast.keys() == g_ref.keys() and len(g_ref) > 10
    for n in g_ref:
        assert torch.allclose(g_fast[n], g_ref[n], atol=1e-5), n


@pytest.mark.parametrize("flag,key,depends", [
    ("query_on_edges", "qtok", True),
    ("upstream", "pre_feat", True),
])
def test_ablation_switches(flag, key, depends):
    b = batch()
    b2 = copy.deepcopy(b)
    for k in list(b2.subgraph):
        if k.endswith(key):
            b2.subgraph[k] = (b2.subgraph[k] + 1) % 6
    on, off = model().eval(), model(**{flag: False}).eval()
    with torch.no_grad():
        assert not torch.allclose(_side(on, b), _side(on, b2))  # eq. 11 uses it
        assert torch.allclose(_side(off, b), _side(off, b2))  # the ablation removes it


def test_intention_switch():
    """e^I enters only the transformer queries (eq. 8): with the switch off the aggregation ignores it."""
    b = batch()
    on, off = model().eval(), model(intention=False).eval()
    assert off.w_e is None and on.w_e is not None

    def side(net, scale):
        e_u = net.user_emb(b.subgraph["srj_user.seed_feat"])
        e_p = net.item_emb(b.subgraph["srj_item.seed_feat"])
        e_q = net.query_emb(b.sequences["query_tokens"][0])
        e_i = torch.cat([e_u, e_q, e_p], -1) * scale
        return net._side(b.subgraph, "srj_user", "user", e_u, e_q, e_p, e_i)

    with torch.no_grad():
        for w in on.w_e:
            torch.nn.init.normal_(w.weight)
        assert not torch.allclose(side(on, 1.0), side(on, 5.0))
        assert torch.allclose(side(off, 1.0), side(off, 5.0))


def test_search_and_recommendation_use_separate_mlps():
    net = model()
    b = batch(8)
    b.scenario_id = torch.tensor([1, 2, 1, 2, 1, 2, 1, 2])  # recommendation only
    net(b)["click"].sum().backward()
    assert net.mlps[1].net[0].weight.grad is None  # MLP_s unused
    assert net.mlps[0].net[0].weight.grad.abs().sum() > 0


def test_defaults_follow_the_paper():
    from unisr.models.registry import get_model_info

    info = get_model_info("srjgraph")
    cfg = info.config()
    assert cfg.user_widths == [25, 1, 10] and cfg.item_widths == [1, 25, 1]
    assert info.defaults["train"]["optimizer"] == "adagrad"
    assert info.defaults["data"]["policy"] == "alternating"
    # a joint model is selected on the mean of its scenarios' validation AUCs, not on one pooled AUC
    assert info.defaults["train"]["monitor"] == "scenarios.*.auc"


def test_single_query_attention_equals_multihead_attention():
    """TransformerUnit.attend folds W_k into the query and W_v after pooling: same result as
    nn.MultiheadAttention on the same parameters, masks included."""
    from unisr.models.srjgraph import TransformerUnit

    torch.manual_seed(0)
    unit = TransformerUnit(12, 3, 16, 8, 0.0)
    with torch.no_grad():  # non-zero biases so that the bias algebra is exercised
        unit.attn.in_proj_bias.normal_()
        unit.attn.out_proj.bias.normal_()
    q, center, children = torch.randn(5, 12), torch.randn(5, 12), torch.randn(5, 6, 12)
    cmask = torch.rand(5, 6) < 0.6
    cmask[0] = False  # a node without neighbours attends to itself only
    keys = torch.cat([center.unsqueeze(1), children], 1) + unit.pos[:7]  # eq. 9 with positional encodings
    mask = torch.cat([torch.ones(5, 1, dtype=torch.bool), cmask], 1)
    ref, _ = unit.attn(q.unsqueeze(1), keys, keys, key_padding_mask=~mask, need_weights=False)
    assert torch.allclose(unit.attend(q, center, children, cmask), ref.squeeze(1), atol=1e-5)


def test_field_embedding_per_field_sizes():
    from unisr.models.srjgraph import FieldEmbedding

    emb = FieldEmbedding([10, 3, 5], [16, 4, 4], sparse=False)
    idx = torch.tensor([[[1, 2, 4]], [[9, 0, 0]]])
    out = emb(idx)
    assert out.shape == (2, 1, 24) and emb.out_dim == 24
    assert torch.equal(out[1, 0, :16], emb.tables[0].weight[9])  # id (size 16) then the two size-4 fields
    assert torch.equal(out[0, 0, 20:], emb.tables[1].weight[3 + 4])  # third field: offset 3 in its table


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    from unisr.simulate.api import resolve_config, simulate_config

    out = tmp_path_factory.mktemp("sim_srj")
    simulate_config(resolve_config("tiny", ["n_events=20000"]), out, 0, "tiny", None, None)
    return out


def test_joint_schedule_alternates_search_and_recommendation(sim):
    """Paper sec. 5.3.1: each mini-batch comes from search or from recommendation, alternately."""
    from unisr.data.features import FeatureEncoder
    from unisr.data.loader import DatasetContext, EventLoader
    from unisr.data.schema import DatasetSpec
    from unisr.train.config import resolve_config

    spec = DatasetSpec.load(sim)
    cfg = resolve_config("srjgraph", sets=["data.batch_size=32", "data.scenarios=[search_text,feed_main]"])
    enc = FeatureEncoder.fit(sim, spec)
    loader = EventLoader(DatasetContext.open(sim, enc), "train", cfg.data, train=True, seed=0)
    kinds = enc.schema.scenario_kinds
    seq = []
    for b in loader.epoch(0):
        k = {kinds[s].startswith("search") for s in b.scenario_id.tolist()}
        assert len(k) == 1, "a batch mixes search and recommendation"
        seq.append(k.pop())
    assert True in seq and False in seq
    n = min(seq.count(True), seq.count(False))
    # alternate while both groups have full batches (a group's last, partial batch may come at the end)
    assert all(seq[i] != seq[i + 1] for i in range(2 * n - 3)), "".join("SR"[not x] for x in seq)


def test_train_cli_end_to_end(sim, tmp_path):
    """`unisr train --model srjgraph` writes the run folder of CONTRACT.md with per-scenario metrics; the graph
    of the trained scenarios is cached beside the data."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    out = tmp_path / "run"
    cmd = [str(Path(sys.executable).parent / "unisr"), "train", "--model", "srjgraph", "--data", str(sim),
           "--out", str(out), "--set", "train.epochs=2", "--set", "train.max_steps_per_epoch=3",
           "--set", "data.batch_size=64", "--set", "data.scenarios=[search_text,feed_main]",
           "--set", "train.threads=1", "--set", "train.progress=false", "--set", "model.user_widths=[5,1,3]",
           "--set", f"data.graph_dir={tmp_path / 'graph'}"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    for f in ("config.yaml", "model.safetensors", "metrics.json", "train_log.jsonl", "encoders"):
        assert (out / f).exists(), f
    m = json.loads((out / "metrics.json").read_text())
    assert set(m["scenarios"]) == {"search_text", "feed_main"}
    for s in m["scenarios"].values():
        assert 0.0 <= s["auc"] <= 1.0 and "oracle_auc" in s
    assert (tmp_path / "graph" / "clicks-feed_main+search_text").is_dir()
    # the kept epoch is the one with the best mean of the two per-scenario validation AUCs
    logs = [json.loads(x) for x in (out / "train_log.jsonl").read_text().splitlines() if x.strip()]
    mean = [sum(v["auc"] for v in e["valid"]["scenarios"].values()) / 2 for e in logs if e.get("stage") == "train"]
    assert m["monitor"] == "scenarios.*.auc" and len(mean) == 2
    assert m["best_epoch"] == max(range(len(mean)), key=mean.__getitem__)
    assert m["best_valid"] == pytest.approx(max(mean))
