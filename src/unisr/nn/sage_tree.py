"""GraphSAGE (Hamilton, Ying, Leskovec, NIPS'17, algorithm 1) on a sampled k-hop tree: K layers of PyG
``SAGEConv`` (mean aggregator by default: h_v <- W_self h_v + W_neigh mean_{u in N(v)} h_u, the paper's
W [h_v || h_N(v)] split in two), each but the last followed by ReLU and the paper's l2 normalisation; the seed's
output is its vector. The tree's edges run child -> parent (a node aggregates its sampled neighbours), so after
K layers the seed has seen its K-hop sample. Used per search scenario by ``models/graphsage.py`` (BOMGraph's
table-2 baseline).

Shapes:
    tree_edges(mask [B, n], parent [n]) -> edge_index [2, E] over the B * n flattened slots
    SAGETreeEncoder(x [B, n, d_in], mask [B, n]) -> [B, dim]
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import SAGEConv

from unisr.graph.samplers.union import tree_parent


def tree_edges(mask: Tensor, parent: Tensor) -> Tensor:
    """Child -> parent edges of every valid non-seed slot of B flattened trees (slot (b, c) = b * n + c)."""
    b, n = mask.shape
    rows, cols = torch.nonzero(mask[:, 1:], as_tuple=True)
    cols = cols + 1
    return torch.stack([rows * n + cols, rows * n + parent[cols]])


class SAGETreeEncoder(nn.Module):
    """``len(fanouts)`` SAGEConv layers on a ``fanouts`` tree.

    Shapes:
        forward(x [B, n, d_in], mask [B, n]) -> [B, dim]
    """

    def __init__(self, d_in: int, dim: int, fanouts: Sequence[int], aggr: str = "mean", normalize: bool = True
                 ) -> None:
        super().__init__()
        self.convs = nn.ModuleList(SAGEConv(d_in if k == 0 else dim, dim, aggr=aggr) for k in range(len(fanouts)))
        self.normalize = normalize
        self.register_buffer("parent", tree_parent(fanouts), persistent=False)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        b, n, d = x.shape
        if n != len(self.parent):
            raise ValueError(f"SAGETreeEncoder: trees of {len(self.parent)} slots expected, got {n}")
        ei = tree_edges(mask, self.parent)
        h = x.reshape(b * n, d)
        for k, conv in enumerate(self.convs):
            h = conv(h, ei)
            if k < len(self.convs) - 1:
                h = F.relu(h)
                if self.normalize:
                    h = F.normalize(h, dim=-1)
        return h.view(b, n, -1)[:, 0]
