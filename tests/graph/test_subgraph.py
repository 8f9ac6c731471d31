"""graph/subgraph.py: the typed samples move and slice with the batch, the reachable nodes match a per-slot
reference, and a missing or foreign subgraph is refused with the model's name."""

from __future__ import annotations

import pytest
import torch

import srj_tree_cases as cases
from unisr.graph.subgraph import (
    SocialSubgraph,
    TargetAwareSubgraph,
    fanouts_of,
    reachable,
    require,
)


def test_reachable_matches_a_per_slot_reference():
    sub = cases.subgraph(4, torch.Generator().manual_seed(2), p_mask=0.6)
    for side, widths in (("user", cases.UW), ("item", cases.IW)):
        assert sub.widths(side) == widths
        hops = sub.hops(side)
        for k, (reach, index, rank) in enumerate(sub.reachable(side)):
            b, w = hops[k].mask.shape
            want = torch.zeros(b * w, dtype=torch.bool)
            for s in range(b):
                for j in range(w):
                    ok, jj = True, j
                    for h in range(k, -1, -1):  # the slot and every precursor present
                        ok &= bool(hops[h].mask[s, jj])
                        jj //= widths[h]
                    want[s * w + j] = ok
            assert torch.equal(reach, want)
            assert torch.equal(index, want.nonzero().squeeze(1))
            assert torch.equal(rank[index], torch.arange(len(index)))


def test_map_tensors_slices_every_per_sample_tensor():
    sub = cases.subgraph(5, torch.Generator().manual_seed(0))
    rows = torch.tensor([3, 0])
    part = sub.map_tensors(lambda t: t[rows])
    assert isinstance(part, TargetAwareSubgraph) and len(part) == 2 and part is not sub
    assert torch.equal(part.item_seed_feat, sub.item_seed_feat[rows])
    for a, b in zip(part.user_hops + part.item_hops, sub.user_hops + sub.item_hops, strict=True):
        for name in ("feat", "pre_feat", "qtok", "mask"):
            assert torch.equal(getattr(a, name), getattr(b, name)[rows])
    assert sub.user_hops[0].mask.shape[0] == 5  # the original is untouched


def test_fanouts_need_nested_widths():
    assert fanouts_of([torch.zeros(2, 3), torch.zeros(2, 6), torch.zeros(2, 12)]) == [3, 2, 2]
    with pytest.raises(ValueError, match="not a multiple"):
        fanouts_of([torch.zeros(2, 3), torch.zeros(2, 4)])
    assert reachable([]) == []


def test_require_names_the_model_and_the_input():
    sub = cases.subgraph(2, torch.Generator().manual_seed(0))
    assert require(sub, TargetAwareSubgraph, "M", "graph:srjgraph") is sub
    with pytest.raises(ValueError, match=r"model M needs batch.subgraph: a SocialSubgraph from the graph:social "
                                         r"sampler \(unisr.graph.hooks\); the batch has a TargetAwareSubgraph"):
        require(sub, SocialSubgraph, "M", "graph:social")
    with pytest.raises(ValueError, match="the batch has no subgraph"):
        require(None, TargetAwareSubgraph, "M", "graph:srjgraph")
    with pytest.raises(ValueError, match=r"model M was built for user_widths=\[3, 1, 2\], item_widths=\[1, 2\]"):
        sub.check_widths("M", [3, 1, 2], [1, 2])
    with pytest.raises(ValueError, match="side must be one of"):
        sub.hops("query")
