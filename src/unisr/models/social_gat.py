"""GAT baseline of TreeMS's table 2 (after Veličković et al., "Graph Attention Networks", ICLR'18): PyG
``GATConv`` over the users' social neighbourhoods, the target node attending over itself and its neighbours.

Simplified (docs/models/baselines_treems.md): every ``graph:social`` view pooled into one homogeneous
neighbourhood (that is the point of the baseline: no view nor scenario in the attention), neighbours from the
hook's uniform sample, heads averaged, and the attended users enter the shared MLP of eq. 3.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.nn import GATConv

from unisr.data.features import FeatureSchema
from unisr.models.graph_configs import SHARE_DEFAULTS, SHARE_NEEDS, ShareConfig
from unisr.models.registry import register_model
from unisr.nn.social import GraphShareRanker, ShareInput, init_relu_stacks


class SocialGATConfig(ShareConfig):
    heads: int = 2


class SelfLoopGAT(nn.Module):
    """GATConv on a bipartite block, each target also attending to itself (explicit self edges).

    Shapes:
        x: (h_src [N_src, d], h_dst [N_dst, d]), edge_index [2, E] -> [N_dst, d]
    """

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.conv = GATConv((dim, dim), dim, heads=heads, concat=False, add_self_loops=False)

    def forward(self, x: tuple[Tensor, Tensor], edge_index: Tensor) -> Tensor:
        src, dst = x
        n_src, n_dst = src.shape[0], dst.shape[0]
        loops = torch.arange(n_dst)
        ei = torch.cat([edge_index, torch.stack([loops + n_src, loops])], 1)
        return self.conv((torch.cat([src, dst], 0), dst), ei)


@register_model("social_gat", config=SocialGATConfig, needs=SHARE_NEEDS,
                defaults=SHARE_DEFAULTS,
                paper="Veličković et al., Graph Attention Networks, ICLR'18 (TreeMS's GAT baseline)")
class SocialGAT(GraphShareRanker):
    """Sharing recommendation: graph attention over the pooled social sample, then an MLP.

    Shapes:
        batch (with a ``SocialSubgraph``, ``graph:social``) -> {"click": [B] logits}
    """

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg: SocialGATConfig) -> SocialGAT:
        inp = ShareInput.from_config(schema, cfg)
        layers = nn.ModuleList(SelfLoopGAT(inp.user_dim, cfg.heads) for _ in cfg.fanouts)
        model = cls(inp, layers, cfg.hidden, cfg.dropout, act=nn.ELU())
        return init_relu_stacks(model, cfg.init)
