"""NGCF (Wang et al., SIGIR'19) as a CTR baseline of SRJGraph's paper (sec. 5.2, table 3), over SRJGraph's
sampled neighbourhoods (``unisr.graph.trees``, ``unisr.nn.tree_gnn``), bottom-up to the seed user and item.

PyG has no NGCF layer, so its embedding propagation (NGCF eqs. 3-4) is written here, vectorised over the edges
of the whole batch: for a node n with sampled children c (p_nc = 1 / sqrt(|N_n| |N_c|), tree degrees),

    e_n^(l+1) = LeakyReLU( W1 e_n^(l) + sum_c p_nc (W1 e_c^(l) + W2 (e_c^(l) * e_n^(l))) )

W1 e is computed once per node and gathered per edge; the bi-interaction e_c * e_n is one gather + product per
edge and W2 one matmul over all edges; the sum over children is one ``index_add_``. As in the authors' code each
layer's output is L2-normalised before the final concatenation h = e^(0) || e^(1) || ... || e^(K) (eq. 9).

Shapes:
    batch (with a ``TargetAwareSubgraph`` from ``SRJGraphHook``) -> {"click": [B] logits}
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unisr.data.features import FeatureSchema
from unisr.graph.trees import SampledTrees, layer_slices
from unisr.models.graph_configs import TREE_GNN_DEFAULTS, TREE_GNN_NEEDS, TreeGNNConfig
from unisr.models.registry import register_model
from unisr.nn.entity import NodeEmbedding, QueryEncoder
from unisr.nn.tree_gnn import TreeGNNRanker

PAPER = "Wang et al., Neural Graph Collaborative Filtering, SIGIR'19 (baseline of SRJGraph, WSDM'22)"


class NGCFConfig(TreeGNNConfig):
    layer_dims: list[int] | None = None  # one per aggregation layer; None = 64 each (NGCF paper)
    message_dropout: float = 0.1  # NGCF paper: message dropout 0.1


class BiInteraction(nn.Module):
    """One NGCF propagation layer on an edge list (child -> parent), updating the first ``n_dst`` nodes.

    Shapes:
        x: [N_src, d_in], edge_index: [2, E] (dst < n_dst), norm: [E] -> [n_dst, d_out]
    """

    def __init__(self, d_in: int, d_out: int, message_dropout: float) -> None:
        super().__init__()
        self.w1 = nn.Linear(d_in, d_out)
        self.w2 = nn.Linear(d_in, d_out)
        self.drop = nn.Dropout(message_dropout)

    def forward(self, x: Tensor, edge_index: Tensor, norm: Tensor, n_dst: int) -> Tensor:
        src, dst = edge_index
        w1x = self.w1(x)
        msg = norm.unsqueeze(1) * (w1x[src] + self.w2(x[src] * x[dst]))  # eq. 3
        agg = torch.zeros(n_dst, w1x.shape[1], dtype=w1x.dtype, device=w1x.device).index_add_(0, dst, msg)
        return self.drop(F.leaky_relu(w1x[:n_dst] + agg, 0.2))  # eq. 4: m_{n<-n} = W1 e_n


@register_model("ngcf", config=NGCFConfig, paper=PAPER, needs=TREE_GNN_NEEDS, defaults=TREE_GNN_DEFAULTS)
class NGCFRanker(TreeGNNRanker):
    """NGCF over SRJGraph's sampled user/item neighbourhoods, MLP(h_u || e_q || h_p) per task.

    A user node's e^(0) is e_u || 0 and an item node's 0 || e_p.

    Shapes:
        batch -> {"click": [B] logits}; h: [B, du + dp + sum(layer_dims)] per seed
    """

    def __init__(self, user_emb: NodeEmbedding, item_emb: NodeEmbedding, query_emb: QueryEncoder,
                 is_search: Tensor, user_widths: list[int], item_widths: list[int], *,
                 layer_dims: list[int] | None = None, message_dropout: float = 0.1, dropout: float = 0.0,
                 mlp: list[int] | None = None) -> None:
        depth = max(len(user_widths), len(item_widths))
        dims = list(layer_dims) if layer_dims is not None else [64] * depth
        if len(dims) != depth:
            raise ValueError(f"layer_dims needs one size per aggregation layer ({depth}), got {dims}")
        d0 = user_emb.out_dim + item_emb.out_dim
        super().__init__(user_emb, item_emb, query_emb, is_search, user_widths, item_widths, d0 + sum(dims),
                         mlp or [200, 80], dropout)
        ins = [d0, *dims[:-1]]
        self.layers = nn.ModuleList(BiInteraction(i, o, message_dropout) for i, o in zip(ins, dims, strict=True))

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg: NGCFConfig) -> NGCFRanker:
        return cls(*cls.inputs(schema, cfg), cfg.user_widths, cfg.item_widths, layer_dims=cfg.layer_dims,
                   message_dropout=cfg.message_dropout, dropout=cfg.dropout, mlp=cfg.mlp)

    def encode(self, trees: SampledTrees) -> tuple[Tensor, Tensor]:
        x, seed0 = self.embed_homogeneous(trees)
        norm = trees.sym_norm()
        b2 = 2 * trees.batch_size
        seeds = [seed0]
        for layer, conv in enumerate(self.layers, start=1):
            n_src, n_dst, n_e = layer_slices(trees, layer)  # x has n_src rows: the last layer's n_dst
            x = conv(x, trees.edge_index[:, :n_e], norm[:n_e], n_dst)
            seeds.append(F.normalize(x if n_dst == b2 else x[:b2], dim=1))
        h = torch.cat(seeds, 1)  # eq. 9
        return h[:trees.batch_size], h[trees.batch_size:]
