"""PinSage baseline of TreeMS's table 2 (after Ying et al., "Graph Convolutional Neural Networks for Web-Scale
Recommender Systems", KDD'18): GraphSAGE convolutions (PyG ``SAGEConv``) over the users' social neighbourhoods
with an ``aggregator`` of ``mean`` (PinSage_A), ``max`` (max-pooling, PinSage_M) or ``lstm`` (PinSage_L).

Simplified (docs/models/baselines_treems.md): neighbours are the ``graph:social`` hook's uniform sample of every
view pooled into one homogeneous neighbourhood (PinSage: top-T by random-walk visit counts, importance-weighted
pooling), no curriculum of hard negatives, and the convolved users enter the shared MLP of eq. 3.
"""

from __future__ import annotations

from typing import Literal

import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import SAGEConv

from unisr.data.features import FeatureSchema
from unisr.models.graph_configs import SHARE_DEFAULTS, SHARE_NEEDS, ShareConfig
from unisr.models.registry import register_model
from unisr.nn.social import GraphShareRanker, ShareInput, init_relu_stacks


class PinSageConfig(ShareConfig):
    aggregator: Literal["mean", "max", "lstm"] = "mean"


class SAGELayer(nn.Module):
    """PyG ``SAGEConv`` on a bipartite block; a block without any edge aggregates to zeros for every aggregator
    (PyG's LSTM aggregation cannot run on an empty sequence).

    project=True: neighbours go through Linear + ReLU before the aggregation (PinSage's CONVOLVE, line 1);
    normalize=True: the output is L2-normalised (line 3).

    Shapes:
        x: (h_src [N_src, d], h_dst [N_dst, d]), edge_index [2, E] -> [N_dst, d]
    """

    def __init__(self, dim: int, aggregator: str) -> None:
        super().__init__()
        self.dim = dim
        self.conv = SAGEConv((dim, dim), dim, aggr=aggregator, project=True, normalize=True)

    def forward(self, x: tuple[Tensor, Tensor], edge_index: Tensor) -> Tensor:
        if edge_index.shape[1] == 0:
            dst = x[1]
            empty = dst.new_zeros(dst.shape[0], self.dim)
            return F.normalize(self.conv.lin_l(empty) + self.conv.lin_r(dst), p=2.0, dim=-1)
        return self.conv(x, edge_index)


@register_model("pinsage", config=PinSageConfig, needs=SHARE_NEEDS,
                defaults=SHARE_DEFAULTS,
                paper="Ying et al., Graph Convolutional Neural Networks for Web-Scale Recommender Systems, KDD'18")
class PinSage(GraphShareRanker):
    """Sharing recommendation: GraphSAGE convolutions (mean / max-pool / LSTM) over the social sample, then an MLP.

    Shapes:
        batch (with a ``SocialSubgraph``, ``graph:social``) -> {"click": [B] logits}
    """

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg: PinSageConfig) -> PinSage:
        inp = ShareInput.from_config(schema, cfg)
        layers = nn.ModuleList(SAGELayer(inp.user_dim, cfg.aggregator) for _ in cfg.fanouts)
        model = cls(inp, layers, cfg.hidden, cfg.dropout, act=nn.ReLU())
        return init_relu_stacks(model, cfg.init)
