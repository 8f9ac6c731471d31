"""Shared checks of the GNN baselines over SRJGraph's sampled neighbourhoods (gat, hgt, ngcf, lightgcn):
hand-made ``batch.subgraph`` (a ``TargetAwareSubgraph``, as ``SRJGraphHook`` gives) and the properties every such
model must have."""

from __future__ import annotations

import copy

import torch

from synth import random_batch, tiny_schema
from unisr.data.features import SequenceField
from unisr.graph.subgraph import TargetAwareSubgraph, TreeHop
from unisr.models.registry import build_model

UW, IW = [3, 1, 2], [1, 3, 1]
LQ = 4
VOCAB = {"user": [50], "item": [40, 6]}  # tiny_schema: users have 1 field, items 2


def schema():
    s = tiny_schema(3)
    s.sequences = [SequenceField("query_tokens", "queries", 20, LQ, 8)]
    s.scenario_kinds = ["search_text", "recommend", "recommend"]
    return s


def _feat(kind: str, g: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.stack([torch.randint(0, v, shape, generator=g) for v in VOCAB[kind]], -1)


def subgraph(b: int, g: torch.Generator, empty: bool = False, p_mask: float = 0.7, uw: list[int] = UW,
             iw: list[int] = IW) -> TargetAwareSubgraph:
    seeds = {"user": _feat("user", g, b), "item": _feat("item", g, b)}
    hops: dict[str, list[TreeHop]] = {}
    for widths, kind in ((uw, "user"), (iw, "item")):
        w, prev, hops[kind] = 1, kind, []
        for f in widths:
            w *= f
            node = "item" if prev == "user" else "user"
            feat, pre_feat = _feat(node, g, b, w), _feat(prev, g, b, w)
            qtok = torch.randint(0, 20, (b, w, LQ), generator=g)
            mask = torch.zeros(b, w, dtype=torch.bool) if empty else torch.rand(b, w, generator=g) < p_mask
            hops[kind].append(TreeHop(feat, pre_feat, qtok, mask))
            prev = node
    return TargetAwareSubgraph(seeds["user"], seeds["item"], hops["user"], hops["item"])


def batch(b: int = 8, seed: int = 0, empty: bool = False, uw: list[int] = UW, iw: list[int] = IW):
    g = torch.Generator().manual_seed(seed)
    bt = random_batch(schema(), b, seed=seed, scenarios=torch.arange(b) % 3)  # search and recommendation
    tok = torch.randint(1, 20, (b, LQ), generator=g) * (bt.scenario_id == 0).long().unsqueeze(1)
    bt.sequences["query_tokens"] = (tok, tok > 0)
    bt.subgraph = subgraph(b, g, empty, uw=uw, iw=iw)
    return bt


def model(name: str, **kw):
    torch.manual_seed(0)
    net = build_model(name, {"user_widths": UW, "item_widths": IW, "sparse_grad": False, **kw}, schema())
    with torch.no_grad():  # the paper-style init (std 1e-4) makes every change invisible to allclose
        for m in net.modules():
            if isinstance(m, torch.nn.Embedding):
                m.weight.normal_()
                if m.padding_idx is not None:
                    m.weight[m.padding_idx].zero_()
    return net


def visible(sub: TargetAwareSubgraph) -> dict[tuple[str, int], torch.Tensor]:
    """Per (side, hop index): [B, W] bool, the node and all its precursors are present."""
    out = {}
    for side, widths in (("user", UW), ("item", IW)):
        prev = None
        for k, f in enumerate(widths):
            m = sub.hops(side)[k].mask
            if prev is not None:
                m = m & prev.repeat_interleave(f, dim=1)
            out[side, k] = prev = m
    return out


def check_shapes_and_gradients(name: str) -> None:
    net = model(name)
    b = batch()
    out = net(b)["click"]
    assert out.shape == (8,) and torch.isfinite(out).all()
    torch.nn.functional.binary_cross_entropy_with_logits(out, b.labels["click"]).backward()
    for n, p in net.named_parameters():
        assert p.grad is not None, f"no gradient reaches {n}"
        assert torch.isfinite(p.grad).all(), n
    net.eval()
    with torch.no_grad():
        assert net(batch(1, seed=3))["click"].shape == (1,)


def check_empty_neighbourhoods(name: str) -> None:
    net = model(name).eval()
    with torch.no_grad():
        empty = net(batch(empty=True))["click"]
        full = net(batch())["click"]
    assert torch.isfinite(empty).all()
    assert not torch.allclose(empty, full)  # the neighbourhood is used when present


def check_masked_neighbours_are_ignored(name: str) -> None:
    """Changing a node behind a false mask (or under a masked precursor) changes nothing; changing a visible
    one changes the output; the edge queries and precursor features (SRJGraph's upstream) are never read."""
    net = model(name).eval()
    b = batch()
    vis = visible(b.subgraph)
    with torch.no_grad():
        ref = net(b)["click"]
        hidden = copy.deepcopy(b)
        for (side, k), m in vis.items():
            hop = hidden.subgraph.hops(side)[k]
            hop.feat = torch.where(m.unsqueeze(-1), hop.feat, (hop.feat + 1) % 6)
            hop.qtok = (hop.qtok + 3) % 20
            hop.pre_feat = (hop.pre_feat + 1) % 6
        assert torch.allclose(net(hidden)["click"], ref, atol=1e-6)
        shown = copy.deepcopy(b)
        h = ("user", 0)
        f = b.subgraph.user_hops[0].feat
        shown.subgraph.user_hops[0].feat = torch.where(vis[h].unsqueeze(-1), (f + 1) % 6, f)
        changed = ~torch.isclose(net(shown)["click"], ref, atol=1e-6)
    assert changed[vis[h].any(1)].all() and not changed[~vis[h].any(1)].any()


def check_target_query_is_a_feature(name: str) -> None:
    net = model(name).eval()
    b = batch()
    b2 = copy.deepcopy(b)
    tok = b2.sequences["query_tokens"][0]
    search = b.scenario_id == 0
    tok2 = torch.where(search.unsqueeze(1), (tok % 19) + 1, tok)
    b2.sequences["query_tokens"] = (tok2, tok2 > 0)
    with torch.no_grad():
        a, c = net(b)["click"], net(b2)["click"]
    assert not torch.isclose(a, c)[search].any() and torch.allclose(a[~search], c[~search])


def check_task_heads(name: str) -> None:
    """Search and recommendation samples use separate MLPs (JSR: shared embeddings and GNN)."""
    net = model(name)
    b = batch()
    b.scenario_id = torch.tensor([1, 2] * 4)  # recommendation only
    net(b)["click"].sum().backward()
    assert net.mlps[1].net[0].weight.grad is None
    assert net.mlps[0].net[0].weight.grad.abs().sum() > 0


def check_depths(name: str) -> None:
    """Aggregation depth 1 and 4 (paper Table 6), and sides of different depth."""
    for uw, iw in (([4], [2]), ([3, 1, 2, 1], [1, 3, 1, 2]), ([3, 1, 2], [2])):
        net = model(name, user_widths=uw, item_widths=iw)
        out = net(batch(uw=uw, iw=iw))["click"]
        assert out.shape == (8,) and torch.isfinite(out).all(), (uw, iw)
        out.sum().backward()


def check_needs_the_sampled_subgraph(name: str) -> None:
    """A batch without the model's sample (or sampled with other widths) fails naming the model and the input."""
    import pytest

    net = model(name)
    b = batch()
    b.subgraph = None
    with pytest.raises(ValueError, match=rf"model {type(net).__name__} needs batch.subgraph: a TargetAwareSubgraph "
                                         r"from the graph:srjgraph sampler"):
        net(b)
    with pytest.raises(ValueError, match=rf"model {type(net).__name__} was built for user_widths=\[3, 1, 2\]"):
        net(batch(uw=[2, 1, 2]))
