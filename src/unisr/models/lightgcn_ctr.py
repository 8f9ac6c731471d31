"""LightGCN (He et al., SIGIR'20) as a CTR baseline of SRJGraph's paper (sec. 5.2, table 3): PyG ``LGConv``
(linear propagation, no feature transformation, no non-linearity) over SRJGraph's sampled neighbourhoods
(``unisr.graph.trees``, ``unisr.nn.tree_gnn``), bottom-up to the seed user and item.

Shapes:
    batch (with a ``TargetAwareSubgraph`` from ``SRJGraphHook``) -> {"click": [B] logits}
"""

from __future__ import annotations

from torch import Tensor, nn
from torch_geometric.nn import LGConv

from unisr.data.features import FeatureSchema
from unisr.graph.trees import SampledTrees, layer_slices
from unisr.models.graph_configs import TREE_GNN_DEFAULTS, TREE_GNN_NEEDS, TreeGNNConfig
from unisr.models.registry import register_model
from unisr.nn.entity import NodeEmbedding, QueryEncoder
from unisr.nn.tree_gnn import TreeGNNRanker

PAPER = ("He et al., LightGCN: Simplifying and Powering Graph Convolution Network for Recommendation, SIGIR'20 "
         "(baseline of SRJGraph, WSDM'22)")


class LightGCNConfig(TreeGNNConfig):
    pass  # LightGCN has no hyper-parameters of its own besides the depth (len of the widths)


@register_model("lightgcn", config=LightGCNConfig, paper=PAPER, needs=TREE_GNN_NEEDS, defaults=TREE_GNN_DEFAULTS)
class LightGCNRanker(TreeGNNRanker):
    """LightGCN over SRJGraph's sampled user/item neighbourhoods, MLP(h_u || e_q || h_p) per task.

    e^(l+1)_n = sum over sampled children c of e^(l)_c / sqrt(|N_n| |N_c|) (LightGCN eq. 3, degrees of the
    sampled tree), h = mean of e^(0..K) at the seed (eq. 4 with alpha_k = 1 / (K + 1)). A user node's e^(0) is
    e_u || 0, an item node's 0 || e_p, so no learned map is needed to share one space.

    Shapes:
        batch -> {"click": [B] logits}; internally e^(l): [N_top, du + dp]
    """

    def __init__(self, user_emb: NodeEmbedding, item_emb: NodeEmbedding, query_emb: QueryEncoder,
                 is_search: Tensor, user_widths: list[int], item_widths: list[int], *, dropout: float = 0.0,
                 mlp: list[int] | None = None) -> None:
        super().__init__(user_emb, item_emb, query_emb, is_search, user_widths, item_widths,
                         user_emb.out_dim + item_emb.out_dim, mlp or [200, 80], dropout)
        self.convs = nn.ModuleList(LGConv(normalize=False) for _ in range(self.depth))  # weights given below

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg: LightGCNConfig) -> LightGCNRanker:
        return cls(*cls.inputs(schema, cfg), cfg.user_widths, cfg.item_widths, dropout=cfg.dropout, mlp=cfg.mlp)

    def encode(self, trees: SampledTrees) -> tuple[Tensor, Tensor]:
        x, total = self.embed_homogeneous(trees)
        norm = trees.sym_norm()
        b2 = 2 * trees.batch_size
        for layer, conv in enumerate(self.convs, start=1):
            n_src, n_dst, n_e = layer_slices(trees, layer)  # x has n_src rows: the last layer's n_dst
            # LGConv's own propagation, restricted to the n_dst nodes this layer updates
            x = conv.propagate(trees.edge_index[:, :n_e], x=x, edge_weight=norm[:n_e], size=(n_src, n_dst))
            total = total + (x if n_dst == b2 else x[:b2])
        h = total / (self.depth + 1)
        return h[:trees.batch_size], h[trees.batch_size:]
