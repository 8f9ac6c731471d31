"""nn/sage_tree.py: GraphSAGE-mean on a sampled tree equals the hand computation; masked slots are left out of
the mean; hop-2 nodes reach the seed after two layers."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from unisr.nn.sage_tree import SAGETreeEncoder, tree_edges


def test_tree_edges_skip_masked_slots() -> None:
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]], dtype=torch.bool)
    ei = tree_edges(mask, torch.tensor([-1, 0, 0]))
    assert ei.tolist() == [[1, 4, 5], [0, 3, 3]]


def test_one_layer_is_the_mean_aggregator_by_hand() -> None:
    torch.manual_seed(0)
    enc = SAGETreeEncoder(4, 3, [3])
    x = torch.randn(2, 4, 4)
    mask = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0]], dtype=torch.bool)
    conv = enc.convs[0]
    want0 = conv.lin_l(x[0, 1:3].mean(0)) + conv.lin_r(x[0, 0])  # W_neigh mean(children) + W_self h_v
    want1 = conv.lin_r(x[1, 0])  # no sampled neighbour: the mean is 0 (lin_l's bias only)
    want1 = want1 + conv.lin_l(torch.zeros(4))
    out = enc(x, mask)
    assert torch.allclose(out[0], want0, atol=1e-6) and torch.allclose(out[1], want1, atol=1e-6)


def test_two_layers_reach_hop_two_and_normalise() -> None:
    torch.manual_seed(1)
    enc = SAGETreeEncoder(4, 5, [2, 2])
    mask = torch.tensor([[1, 1, 1, 1, 1, 1, 0]], dtype=torch.bool)
    x = torch.randn(1, 7, 4)
    y = enc(x, mask)
    x2 = x.clone()
    x2[0, 5] += 1.0  # a hop-2 node below hop-1 slot 2
    assert not torch.allclose(enc(x2, mask), y)
    x3 = x.clone()
    x3[0, 6] = 50.0  # masked
    assert torch.allclose(enc(x3, mask), y)
    # by hand: layer 1 on slots 1 and 2, l2-normalised ReLU, then layer 2 at the seed
    c1, c2 = enc.convs
    h = F.normalize(F.relu(c1(x[0], tree_edges(mask, enc.parent))), dim=-1)
    want = c2.lin_l(h[1:3].mean(0)) + c2.lin_r(h[0])
    assert torch.allclose(y[0], want, atol=1e-6)
