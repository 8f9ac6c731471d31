"""DiffNet baseline of TreeMS's table 2 (after Wu et al., "A Neural Influence Diffusion Model for Social
Recommendation", SIGIR'19): social influence diffused over the social network in K layers,

    h_{S_u}^{k+1} = mean(h_j^k, j in S_u),   h_u^{k+1} = sigmoid(W^k [h_{S_u}^{k+1} || h_u^k])

Simplified (docs/models/baselines_treems.md): the social network is the union of the ``graph:social`` views
(DiffNet has one), neighbours are the hook's uniform sample instead of every friend, h^0 is the user-field
embedding (DiffNet fuses a free user embedding with a feature projection), and the diffused source and
destination users enter the shared MLP of eq. 3 instead of an inner product with an item.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.utils import scatter

from unisr.data.features import FeatureSchema
from unisr.models.graph_configs import SHARE_DEFAULTS, SHARE_NEEDS, ShareConfig
from unisr.models.registry import register_model
from unisr.nn.social import GraphShareRanker, ShareInput, init_relu_stacks


class DiffusionLayer(nn.Module):
    """One diffusion step on a bipartite block.

    Shapes:
        x: (h_src [N_src, d], h_dst [N_dst, d]), edge_index [2, E] -> [N_dst, d]
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.lin = nn.Linear(2 * dim, dim)

    def forward(self, x: tuple[Tensor, Tensor], edge_index: Tensor) -> Tensor:
        src, dst = x
        agg = scatter(src[edge_index[0]], edge_index[1], dim=0, dim_size=dst.shape[0], reduce="mean")
        return torch.sigmoid(self.lin(torch.cat([agg, dst], -1)))


@register_model("diffnet", config=ShareConfig, needs=SHARE_NEEDS,
                defaults=SHARE_DEFAULTS,
                paper="Wu et al., A Neural Influence Diffusion Model for Social Recommendation, SIGIR'19")
class DiffNet(GraphShareRanker):
    """Sharing recommendation: both users' representations diffused over the social views, then an MLP.

    Shapes:
        batch (with a ``SocialSubgraph``, ``graph:social``) -> {"click": [B] logits}
    """

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg: ShareConfig) -> DiffNet:
        inp = ShareInput.from_config(schema, cfg)
        layers = nn.ModuleList(DiffusionLayer(inp.user_dim) for _ in cfg.fanouts)
        model = cls(inp, layers, cfg.hidden, cfg.dropout)
        return init_relu_stacks(model, cfg.init)
