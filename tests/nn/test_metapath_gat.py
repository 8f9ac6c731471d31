"""The GAT over sampled metapath trees (nn/metapath_gat.py)."""

from __future__ import annotations

import torch

from unisr.nn.metapath_gat import MetapathGAT, tree_edges


def test_tree_edges_hand_case() -> None:
    m1 = torch.tensor([[True, False], [True, True]])
    m2 = torch.tensor([[True, True], [False, True]])
    pre2 = torch.tensor([[0, 1], [0, 1]])  # seed 0's second two-hop node hangs under a masked one-hop slot
    ei = tree_edges(m1, m2, pre2)
    # ids: seeds 0, 1; one-hop 2, 3 (seed 0), 4, 5 (seed 1); two-hop 6, 7 (seed 0), 8, 9 (seed 1)
    got = sorted(map(tuple, ei.T.tolist()))
    assert got == sorted([(2, 0), (4, 1), (5, 1), (6, 2), (9, 5)])


def test_output_depends_on_sampled_neighbours_only() -> None:
    torch.manual_seed(0)
    gat = MetapathGAT(4, 8).eval()
    b, w1, w2 = 3, 2, 2
    x0, x1, x2 = torch.randn(b, 4), torch.randn(b, w1, 4), torch.randn(b, w2, 4)
    m1 = torch.tensor([[True, True], [True, False], [False, False]])
    m2 = torch.tensor([[True, False], [True, True], [True, True]])
    pre2 = torch.zeros(b, w2, dtype=torch.long)
    out = gat(x0, x1, m1, x2, m2, pre2)
    assert out.shape == (b, 8)
    # a masked slot's features change nothing; a sampled one's do
    x1b = x1.clone()
    x1b[1, 1] += 5.0
    x1b[2] += 5.0
    assert torch.allclose(gat(x0, x1b, m1, x2, m2, pre2), out, atol=1e-6)
    x2b = x2.clone()
    x2b[0, 0] += 5.0  # a two-hop node of seed 0 reaches it through its one-hop node
    changed = gat(x0, x1, m1, x2b, m2, pre2)
    assert not torch.allclose(changed[0], out[0]) and torch.allclose(changed[1:], out[1:], atol=1e-6)
    # a seed with no neighbour still gets a vector (its self loop)
    assert torch.isfinite(out[2]).all()
