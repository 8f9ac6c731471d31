"""GAT (Velickovic et al., ICLR'18) as a CTR baseline of SRJGraph's paper (sec. 5.2, table 3): PyG ``GATConv``
layers over SRJGraph's sampled neighbourhoods (``unisr.graph.trees``, ``unisr.nn.tree_gnn``), bottom-up to the seed user and item.

Shapes:
    batch (with a ``TargetAwareSubgraph`` from ``SRJGraphHook``) -> {"click": [B] logits}
"""

from __future__ import annotations

from torch import Tensor, nn
from torch_geometric.nn import GATConv

from unisr.data.features import FeatureSchema
from unisr.graph.trees import SampledTrees, layer_slices
from unisr.models.graph_configs import TREE_GNN_DEFAULTS, TREE_GNN_NEEDS, TreeGNNConfig
from unisr.models.registry import register_model
from unisr.nn.entity import NodeEmbedding, QueryEncoder
from unisr.nn.tree_gnn import TreeGNNRanker

PAPER = "Velickovic et al., Graph Attention Networks, ICLR'18 (baseline of SRJGraph, WSDM'22)"


class GATConfig(TreeGNNConfig):
    hidden: int = 32  # per head; not given in SRJGraph's paper
    heads: int = 2
    attn_dropout: float = 0.0


@register_model("gat", config=GATConfig, paper=PAPER,
                needs=TREE_GNN_NEEDS, defaults=TREE_GNN_DEFAULTS)
class GATRanker(TreeGNNRanker):
    """GAT over SRJGraph's sampled user/item neighbourhoods, MLP(h_u || e_q || h_p) per task.

    A user node is e_u || 0 and an item node 0 || e_p; layer l of K: multi-head attention over the node
    itself (self-loop) and its sampled children, heads concatenated, ELU between layers.

    Shapes:
        batch -> {"click": [B] logits}; internally x: [N, du + dp] -> [N_top, heads * hidden] per layer
    """

    def __init__(self, user_emb: NodeEmbedding, item_emb: NodeEmbedding, query_emb: QueryEncoder,
                 is_search: Tensor, user_widths: list[int],
                 item_widths: list[int], *, hidden: int = 32, heads: int = 2, attn_dropout: float = 0.0,
                 dropout: float = 0.0, mlp: list[int] | None = None) -> None:
        super().__init__(user_emb, item_emb, query_emb, is_search, user_widths, item_widths, hidden * heads,
                         mlp or [200, 80], dropout)
        d_in = user_emb.out_dim + item_emb.out_dim
        self.convs = nn.ModuleList(
            GATConv(d_in if layer == 0 else hidden * heads, hidden, heads=heads, dropout=attn_dropout,
                    add_self_loops=True)
            for layer in range(self.depth))
        self.act = nn.ELU()

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg: GATConfig) -> GATRanker:
        return cls(*cls.inputs(schema, cfg), cfg.user_widths, cfg.item_widths, hidden=cfg.hidden, heads=cfg.heads,
                   attn_dropout=cfg.attn_dropout, dropout=cfg.dropout, mlp=cfg.mlp)

    def encode(self, trees: SampledTrees) -> tuple[Tensor, Tensor]:
        x, _ = self.embed_homogeneous(trees)
        for layer, conv in enumerate(self.convs, start=1):
            n_src, n_dst, n_e = layer_slices(trees, layer)  # x has n_src rows: the last layer's n_dst
            x = conv((x, x[:n_dst]), trees.edge_index[:, :n_e], size=(n_src, n_dst))
            if layer < self.depth:
                x = self.act(x)
        b = trees.batch_size
        return x[:b], x[b:2 * b]

