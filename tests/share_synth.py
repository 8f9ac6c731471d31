"""Hand-made share batches with a ``SocialSubgraph`` as ``unisr.graph.hooks.SocialHook`` gives it
(``graph:social``), and the checks every TreeMS baseline passes (shapes, gradients, masked neighbours ignored,
scenario routing, the error without the sample)."""

from __future__ import annotations

import copy

import pytest
import torch

from synth import random_batch, tiny_schema
from unisr.data.features import SparseField
from unisr.graph.subgraph import SocialHop, SocialNeighbourhood, SocialSubgraph
from unisr.models.registry import build_model

VIEWS = ("friend", "pay", "share")
N_USERS = 49  # tiny_schema: user_id vocabulary 50 (0 = unknown)


def share_schema(n_scenarios: int = 3):
    s = tiny_schema(n_scenarios)
    s.sparse = [*s.sparse, SparseField("user.gender", "users", 3, 8), SparseField("target_user_id", "events", 50, 8)]
    s.scenario_kinds = ["share"] * n_scenarios
    return s


def share_batch(schema, n: int = 32, seed: int = 0, fanouts=(3, 2), scenarios=None, empty: bool = False):
    """A batch whose users have 2 categorical fields (id, gender); neighbour slots masked at random (or all)."""
    g = torch.Generator().manual_seed(seed + 100)
    b = random_batch(schema, n, seed=seed, scenarios=scenarios)
    gender = torch.randint(0, 3, (N_USERS + 1,), generator=g)
    gender[0] = 0
    src = torch.randint(1, N_USERS + 1, (n,), generator=g)
    dst = torch.randint(1, N_USERS + 1, (n,), generator=g)
    b.user_index, b.target_user_index = src, dst
    b.sparse[:, schema.field_index("user_id")] = src
    b.sparse[:, schema.field_index("target_user_id")] = dst

    def feat(nodes):
        return torch.stack([nodes, gender[nodes]], -1)

    views: dict[str, dict[str, SocialNeighbourhood]] = {}
    for v in VIEWS:
        views[v] = {}
        for role, seeds, other in (("src", src, dst), ("dst", dst, src)):
            w, pre, hops = 1, seeds.unsqueeze(1), []
            for k, f in enumerate(fanouts):
                w *= f
                mask = torch.zeros(n, w, dtype=torch.bool) if empty else torch.rand(n, w, generator=g) < 0.7
                nodes = torch.randint(1, N_USERS + 1, (n, w), generator=g)
                if k == 0:  # half the pairs are neighbours: slot 0 holds the other user
                    nodes[: n // 2, 0] = other[: n // 2]
                nodes = torch.where(mask, nodes, 0)
                hops.append(SocialHop(nodes, mask, pre.repeat_interleave(f, 1),
                                      torch.where(mask, torch.arange(n * w).view(n, w), -1), feat(nodes)))
                pre = nodes
            views[v][role] = SocialNeighbourhood(seeds, hops)
    # the directed, weighted pair history (SocialSpec(directed_pairs=True)); v1-like data: no ``interact`` view
    pw = torch.randint(1, 6, (2, n, len(VIEWS)), generator=g).float()
    pw = torch.where(torch.rand(2, n, len(VIEWS), generator=g) < 0.4, pw, torch.zeros_like(pw))
    b.subgraph = SocialSubgraph(feat(src), feat(dst), views, pair_out=pw[0], pair_in=pw[1], pair_views=VIEWS)
    return b


def all_hops(sub: SocialSubgraph) -> list[SocialHop]:
    return [h for by_role in sub.views.values() for hood in by_role.values() for h in hood.hops]


def build(name: str, n_scenarios: int = 3, **params):
    torch.manual_seed(0)
    net = build_model(name, {"sparse_grad": False, "fanouts": [3, 2], "hidden": [32, 16], **params},
                      share_schema(n_scenarios))
    with torch.no_grad():  # embeddings of unit scale, so that every input visibly moves the output
        for m in net.modules():
            if isinstance(m, (torch.nn.Embedding, torch.nn.EmbeddingBag)):
                m.weight.normal_(0, 1.0)
    return net


def check_share_model(name: str, specific: list[str] = (), **params) -> torch.nn.Module:
    """Shapes; finite gradients reaching every parameter; masked neighbour slots changing nothing; routing:
    scenario-0 samples give no gradient to other scenarios' ``specific`` parameters (``{s}`` = scenario)."""
    net = build(name, **params)
    schema = share_schema()
    b = share_batch(schema, 32)
    out = net(b)["click"]
    assert out.shape == (32,) and torch.isfinite(out).all()
    loss = torch.nn.functional.binary_cross_entropy_with_logits(out, b.labels["click"])
    for v in getattr(net, "extra_losses", lambda *_: {})(b, {"click": out}).values():
        loss = loss + v
    loss.backward()
    for pname, p in net.named_parameters():
        assert p.grad is not None, f"no gradient reaches {pname}"
        assert torch.isfinite(p.grad).all(), pname
    net.zero_grad(set_to_none=True)

    net.eval()
    with torch.no_grad():
        ref = net(b)["click"]
        b2 = copy.deepcopy(b)
        for hop in all_hops(b2.subgraph):
            m = hop.mask
            junk = torch.randint(1, N_USERS + 1, m.shape)
            hop.nodes = torch.where(m, hop.nodes, junk)
            hop.feat = torch.where(m.unsqueeze(-1), hop.feat, torch.stack([junk, junk % 3], -1))
        assert torch.allclose(net(b2)["click"], ref, atol=1e-6), "a masked neighbour slot changed the output"
        single = share_batch(schema, 1, seed=5)
        assert net(single)["click"].shape == (1,)
        empty = share_batch(schema, 8, seed=6, empty=True)
        assert torch.isfinite(net(empty)["click"]).all()
        rows = torch.tensor([5, 0, 17])  # Batch.select slices the subgraph with the batch
        assert torch.allclose(net(b.select(rows))["click"], ref[rows], atol=1e-5)
        none = share_batch(schema, 4, seed=7)
        none.subgraph = None
        with pytest.raises(ValueError, match=rf"model {type(net).__name__} needs batch.subgraph: a SocialSubgraph "
                                             r"from the graph:social sampler"):
            net(none)
    net.train()

    if specific:
        only0 = share_batch(schema, 16, seed=1, scenarios=torch.zeros(16, dtype=torch.long))
        net(only0)["click"].sum().backward()
        params_ = dict(net.named_parameters())
        for pattern in specific:
            for s in (1, 2):
                p = params_[pattern.format(s=s)]
                assert p.grad is None or float(p.grad.abs().sum()) == 0.0, f"{pattern.format(s=s)} got a gradient"
            p0 = params_[pattern.format(s=0)]
            assert p0.grad is not None and float(p0.grad.abs().sum()) > 0, pattern.format(s=0)
        net.zero_grad(set_to_none=True)
    return net


def neighbours_matter(net: torch.nn.Module) -> bool:
    """Changing the features of present (unmasked) neighbours changes the prediction."""
    b = share_batch(share_schema(), 16, seed=2)
    net.eval()
    with torch.no_grad():
        ref = net(b)["click"]
        b2 = copy.deepcopy(b)
        for hop in all_hops(b2.subgraph):
            hop.feat = torch.where(hop.mask.unsqueeze(-1), torch.ones_like(hop.feat), hop.feat)  # all user 1
        changed = not torch.allclose(net(b2)["click"], ref)
    net.train()
    return changed
