"""HGT (Hu et al., WWW'20) as a CTR baseline of SRJGraph's paper (sec. 5.2, table 3): PyG ``HGTConv`` with node
types user / item and edge types user-clicks-item / item-clicked_by-user over SRJGraph's sampled neighbourhoods
(``unisr.graph.trees``, ``unisr.nn.tree_gnn``), bottom-up to the seed user and item.

Shapes:
    batch (with a ``TargetAwareSubgraph`` from ``SRJGraphHook``) -> {"click": [B] logits}
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import HGTConv

from unisr.data.features import FeatureSchema
from unisr.graph.trees import METADATA, SampledTrees
from unisr.models.graph_configs import TREE_GNN_DEFAULTS, TREE_GNN_NEEDS, TreeGNNConfig
from unisr.models.registry import register_model
from unisr.nn.entity import NodeEmbedding, QueryEncoder
from unisr.nn.tree_gnn import TreeGNNRanker

PAPER = "Hu et al., Heterogeneous Graph Transformer, WWW'20 (baseline of SRJGraph, WSDM'22)"


class HGTConfig(TreeGNNConfig):
    hidden: int = 64  # not given in SRJGraph's paper
    heads: int = 2


@register_model("hgt", config=HGTConfig, paper=PAPER, needs=TREE_GNN_NEEDS, defaults=TREE_GNN_DEFAULTS)
class HGTRanker(TreeGNNRanker):
    """HGT over SRJGraph's sampled user/item neighbourhoods, MLP(h_u || e_q || h_p) per task.

    Each type's features (e_u or e_p) are mapped to ``hidden`` by a type-specific linear layer + ReLU (as the
    HGT paper's type-dependent input projection); then K ``HGTConv`` layers with type-dependent K/Q/V, relation-
    dependent attention and messages, and the gated skip connection.

    Shapes:
        batch -> {"click": [B] logits}; internally x_dict[t]: [N_t_top, hidden] per layer
    """

    def __init__(self, user_emb: NodeEmbedding, item_emb: NodeEmbedding, query_emb: QueryEncoder,
                 is_search: Tensor, user_widths: list[int], item_widths: list[int], *, hidden: int = 64,
                 heads: int = 2, dropout: float = 0.0, mlp: list[int] | None = None) -> None:
        super().__init__(user_emb, item_emb, query_emb, is_search, user_widths, item_widths, hidden,
                         mlp or [200, 80], dropout)
        self.proj = nn.ModuleDict({t: nn.Linear(d, hidden) for t, d in self.node_dims.items()})
        self.convs = nn.ModuleList(HGTConv(hidden, hidden, METADATA, heads=heads) for _ in range(self.depth))

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg: HGTConfig) -> HGTRanker:
        return cls(*cls.inputs(schema, cfg), cfg.user_widths, cfg.item_widths, hidden=cfg.hidden, heads=cfg.heads,
                   dropout=cfg.dropout, mlp=cfg.mlp)

    def encode(self, trees: SampledTrees) -> tuple[Tensor, Tensor]:
        x = {t: F.relu(self.proj[t](e)) for t, e in self.embed_typed(trees).items()}
        for layer, conv in enumerate(self.convs, start=1):
            top = trees.depth - layer  # update hops 0..top from hops 0..top + 1 (prefixes per type)
            edges = {et: ei[:, :trees.he_upto[et][top + 1]] for et, ei in trees.hetero_edges.items()}
            out = conv(x, edges)  # x[t] has the type's nodes of hops 0..top + 1 (the last layer's output)
            x = {t: out[t][:n[top]] for t, n in trees.n_upto_type.items()}
        b = trees.batch_size
        return x["user"][:b], x["item"][:b]
