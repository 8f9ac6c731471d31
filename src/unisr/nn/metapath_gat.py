"""A GAT over a sampled two-hop metapath tree (BOMGraph's GAT(v^0, G_v), Fan et al., CIKM'23, eqs. 4-5): the
start node, its ``W1`` one-hop nodes and ``W2`` two-hop nodes (each extending one one-hop node, ``pre_slot``) as
one PyG graph per batch; two ``GATConv`` layers (PyG) carry the two-hop nodes into the one-hop nodes and those
into the start node, every node also attending to itself. Masked slots take part in no edge.

The tree's edges are built vectorised (no loop over the batch): node ids are seeds [0, B), one-hop slots
[B, B + B W1) and two-hop slots [B + B W1, B + B W1 + B W2), row-major.

Shapes:
    MetapathGAT(x0 [B, D], x1 [B, W1, D], m1 [B, W1], x2 [B, W2, D], m2 [B, W2], pre2 [B, W2]) -> [B, D]
    tree_edges(m1 [B, W1], m2 [B, W2], pre2 [B, W2]) -> edge_index [2, E] (child -> parent)
    embed_tree(gat, MetapathTree, {node type: indices [n] -> [n, D]}) -> [B, dim]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import Tensor, nn
from torch_geometric.nn import GATConv


def tree_edges(m1: Tensor, m2: Tensor, pre2: Tensor) -> Tensor:
    """Child -> parent edges of the batch's metapath trees (one-hop -> seed, two-hop -> its one-hop node)."""
    b, w1 = m1.shape
    w2 = m2.shape[1]
    seed = torch.arange(b).unsqueeze(1)
    hop1 = b + seed * w1 + torch.arange(w1).unsqueeze(0)  # [B, W1]
    hop2 = b + b * w1 + seed * w2 + torch.arange(w2).unsqueeze(0)  # [B, W2]
    parent2 = b + seed * w1 + pre2.clamp(0, w1 - 1)
    ok2 = m2 & torch.gather(m1, 1, pre2.clamp(0, w1 - 1))  # a two-hop node under a masked one-hop node: none
    src = torch.cat([hop1[m1], hop2[ok2]])
    dst = torch.cat([seed.expand(b, w1)[m1], parent2[ok2]])
    return torch.stack([src, dst])


class MetapathGAT(nn.Module):
    """Two GATConv layers on the metapath trees of a batch; the start node's output.

    Shapes:
        forward(x0 [B, D], x1 [B, W1, D], m1 [B, W1], x2 [B, W2, D], m2 [B, W2], pre2 [B, W2]) -> [B, dim]
    """

    def __init__(self, in_dim: int, dim: int, heads: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        self.conv1 = GATConv(in_dim, dim, heads=heads, concat=False, dropout=dropout, add_self_loops=True)
        self.conv2 = GATConv(dim, dim, heads=heads, concat=False, dropout=dropout, add_self_loops=True)
        self.act = nn.ELU()

    def forward(self, x0: Tensor, x1: Tensor, m1: Tensor, x2: Tensor, m2: Tensor, pre2: Tensor) -> Tensor:
        b = x0.shape[0]
        x = torch.cat([x0, x1.reshape(-1, x1.shape[-1]), x2.reshape(-1, x2.shape[-1])])
        ei = tree_edges(m1, m2, pre2)
        h = self.act(self.conv1(x, ei))
        return self.conv2(h, ei)[:b]


def embed_tree(gat: MetapathGAT, tree, embed: Mapping[str, Callable[[Tensor], Tensor]]) -> Tensor:  # noqa: ANN001
    """``gat`` on a ``graph.subgraph.MetapathTree``, each node embedded by ``embed[its node type]`` (node
    indices [n] -> [n, D]; only the sampled slots are embedded, the masked ones are zeros)."""
    t0, t1, t2 = tree.node_types
    x0 = embed[t0](tree.seeds)
    b, d = x0.shape
    x1 = x0.new_zeros((*tree.nodes1.shape, d))
    x1[tree.mask1] = embed[t1](tree.nodes1[tree.mask1])
    x2 = x0.new_zeros((*tree.nodes2.shape, d))
    x2[tree.mask2] = embed[t2](tree.nodes2[tree.mask2])
    return gat(x0, x1, tree.mask1, x2, tree.mask2, tree.pre2)
