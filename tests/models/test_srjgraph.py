"""SRJGraph: shapes and masking of each equation, the empty query, the ablation switches, search/rec heads."""

import copy

import pytest
import torch

from synth import random_batch, tiny_schema
from unisr.data.features import SequenceField
from unisr.graph.subgraph import TargetAwareSubgraph, TreeHop
from unisr.models.registry import build_model

UW, IW = [3, 1, 2], [1, 3, 1]
LQ = 4


def schema():
    s = tiny_schema(3)
    s.sequences = [SequenceField("query_tokens", "queries", 20, LQ, 8)]
    s.scenario_kinds = ["search_text", "recommend", "recommend"]
    return s


def subgraph(b: int, g: torch.Generator, empty: bool = False) -> TargetAwareSubgraph:
    """A hand-made sample as SRJGraphHook gives it: users have 1 field (vocab 50), items 2 (40, 6)."""
    feats = {"user": lambda *sh: torch.randint(0, 50, (*sh, 1), generator=g),
             "item": lambda *sh: torch.stack([torch.randint(0, 40, sh, generator=g),
                                              torch.randint(0, 6, sh, generator=g)], -1)}
    seeds = {"user": feats["user"](b), "item": feats["item"](b)}
    hops: dict[str, list[TreeHop]] = {}
    for widths, kind in ((UW, "user"), (IW, "item")):
        w, prev, hops[kind] = 1, kind, []
        for f in widths:
            w *= f
            node = "item" if prev == "user" else "user"
            feat, pre_feat = feats[node](b, w), feats[prev](b, w)
            qtok = torch.randint(0, 20, (b, w, LQ), generator=g) * (torch.rand(b, w, 1, generator=g) < 0.5)
            mask = torch.zeros(b, w, dtype=torch.bool) if empty else torch.rand(b, w, generator=g) < 0.8
            hops[kind].append(TreeHop(feat, pre_feat, qtok, mask))
            prev = node
    return TargetAwareSubgraph(seeds["user"], seeds["item"], hops["user"], hops["item"])


def all_hops(sub: TargetAwareSubgraph) -> list[TreeHop]:
    return sub.user_hops + sub.item_hops


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
    for hop in all_hops(b2.subgraph):  # change every neighbour: nothing may leak through the mask
        hop.feat = (hop.feat + 1) % 6
    assert torch.allclose(net(b2)["click"], out)


def _side(net, b):
    e_u = net.user_emb(b.subgraph.user_seed_feat)
    e_p = net.item_emb(b.subgraph.item_seed_feat)
    e_q = net.query_emb(b)
    return net._side(b.subgraph, "user", "user", e_u, e_q, e_p, torch.cat([e_u, e_q, e_p], -1))


def dense_side(net, sub, side, seed_kind, e_u, e_q, e_p, e_i):
    """Reference: eq. 7 over every padded slot of the tree, [B, W_h] at each hop (the layout of the hook)."""
    widths = net.widths[side]
    kinds, k = [], seed_kind
    for _ in widths:
        k = "item" if k == "user" else "user"
        kinds.append(k)
    e0, masks = [], []
    for h, kind in enumerate(kinds):
        hop = sub.hops(side)[h]
        pre_kind = seed_kind if h == 0 else kinds[h - 1]
        e0.append(net._upstream(net._entity(pre_kind, hop.pre_feat), net.query_emb.terms(hop.qtok),
                                net._entity(kind, hop.feat), kind))
        masks.append(hop.mask)
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
        for hop in all_hops(b.subgraph):
            hop.mask[0] = True
    results = []
    for side_fn in (None, dense_side):
        net = model(**flags)
        with torch.no_grad():  # non-zero attention biases, so that the bias terms are exercised too
            for unit in net.units:
                unit.attn.in_proj_bias.normal_()
        e_u = net.user_emb(b.subgraph.user_seed_feat)
        e_p = net.item_emb(b.subgraph.item_seed_feat)
        e_q = net.query_emb(b)
        e_i = torch.cat([e_u, e_q, e_p], -1)
        out = []
        for side, kind in (("user", "user"), ("item", "item")):
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
    for hop in all_hops(b2.subgraph):
        setattr(hop, key, (getattr(hop, key) + 1) % 6)
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
        e_u = net.user_emb(b.subgraph.user_seed_feat)
        e_p = net.item_emb(b.subgraph.item_seed_feat)
        e_q = net.query_emb(b)
        e_i = torch.cat([e_u, e_q, e_p], -1) * scale
        return net._side(b.subgraph, "user", "user", e_u, e_q, e_p, e_i)

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


def test_needs_the_target_aware_subgraph():
    """A batch without SRJGraph's sample fails naming the model and the input, not with a KeyError inside."""
    net = model()
    b = batch()
    b.subgraph = None
    with pytest.raises(ValueError, match=r"model SRJGraph needs batch.subgraph: a TargetAwareSubgraph from the "
                                         r"graph:srjgraph sampler"):
        net(b)


def test_select_slices_the_typed_subgraph_with_the_batch():
    """``Batch.select`` (ScenarioGroups, the evaluator) slices the subgraph too: a sub-batch predicts as its rows."""
    net = model().eval()
    b = batch(6)
    rows = torch.tensor([4, 1])
    with torch.no_grad():
        assert torch.allclose(net(b.select(rows))["click"], net(b)["click"][rows], atol=1e-6)
    moved = b.to("cpu")
    assert isinstance(moved.subgraph, TargetAwareSubgraph) and torch.equal(moved.subgraph.user_hops[2].mask,
                                                                           b.subgraph.user_hops[2].mask)


def test_sampler_spec_comes_from_the_config():
    from unisr.graph.hooks import TargetAwareSpec
    from unisr.models.registry import get_model_info

    info = get_model_info("srjgraph")
    cfg = info.config.model_validate({"user_widths": [5, 1, 3], "temporal": False})
    assert info.cls.sampler_spec(cfg) == TargetAwareSpec((5, 1, 3), (1, 25, 1), True, False)


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
    from unisr.pipeline.config import resolve_config

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


def test_dense_fields_enter_the_predictor_only_when_switched_on():
    """``model.dense``: the batch's dense fields (history counters, item age) beside eq. 12's input."""
    b = batch()
    assert b.dense.shape[1] > 0
    off, on = model(), model(dense=True)
    assert on.mlps[0].net[0].in_features == off.mlps[0].net[0].in_features + b.dense.shape[1]
    changed = copy.deepcopy(b)
    changed.dense = changed.dense + 1.0
    assert torch.equal(off(b)["click"], off(changed)["click"])  # the paper's inputs: dense fields unread
    assert not torch.allclose(on(b)["click"], on(changed)["click"])
    from unisr.models.registry import get_model_info

    assert get_model_info("srjgraph").config().dense is False  # off by default: not in the paper


def test_aggregate_off_ignores_the_neighbourhoods():
    """``model.aggregate=false`` (a diagnostic, not a paper row): eq. 12 without e_u^(K), e_p^(K), so changing
    every sampled neighbour changes nothing, while the default model reads them."""
    b = batch()
    b2 = copy.deepcopy(b)
    for hop in all_hops(b2.subgraph):
        hop.feat = (hop.feat + 1) % 6
    on, off = model().eval(), model(aggregate=False).eval()
    with torch.no_grad():
        assert not torch.allclose(on(b)["click"], on(b2)["click"])
        assert torch.equal(off(b)["click"], off(b2)["click"])
        b3 = copy.deepcopy(b)
        b3.subgraph.user_seed_feat = (b3.subgraph.user_seed_feat + 1) % 50
        assert not torch.allclose(off(b)["click"], off(b3)["click"])  # the centre nodes still count


def test_node_id_dropout_only_in_training():
    """``model.id_dropout`` (DropoutNet on the nodes' ids): training outputs vary with the draw, evaluation's
    equal the model without it (the same weights)."""
    b = batch(32)
    with_drop, without = model(id_dropout=0.5), model()
    without.load_state_dict(with_drop.state_dict())
    with_drop.eval(), without.eval()
    assert torch.equal(with_drop(b)["click"], without(b)["click"])
    with_drop.train()
    torch.manual_seed(1)
    a = with_drop(b)["click"]
    torch.manual_seed(2)
    assert not torch.allclose(a, with_drop(b)["click"])
