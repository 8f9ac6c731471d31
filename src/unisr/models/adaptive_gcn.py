"""AdaptiveGCN (Li, Wang, Zhu, Huang, AAAI'18), the single-scenario baseline of BOMGraph's table 2 (Fan et al.,
CIKM'23, ref. [15]: "a spectral graph convolution network that feeds on diverse graph structures and customizes
a spectral filter that combines neighbourhood topological features").

Per search scenario o: each node's uniform k-hop sample over o's relations (``graph/samplers/union.py``, as
GraphSAGE) is one small graph (the sampled tree's edges); ``nn/adaptive_spectral.py:AdaptiveTreeEncoder`` runs
SGC-LL layers on the batch of them densely ([B, n, n]): a residual Laplacian learnt from a Mahalanobis distance
through a Gaussian kernel, L_hat = L + alpha L_res, and a Chebyshev filter of ``order`` terms on L_hat; the seed's
row is its vector. Same node initialisation, graph, splits, in-category retrieval and loss (eq. 13) as BOMGraph;
a visual query is its projected embedding. One scenario per run in the paper (``data.scenario_kinds``); with
several kinds each scenario has its own sampler and encoder.

Shapes:
    user_vectors(batch) -> [B, dim]; item_vectors(item_index [N], scenario [N]) -> [N, dim]
"""

from __future__ import annotations

from pydantic import Field
from torch import nn

from unisr.data.features import FeatureSchema
from unisr.models.graph_configs import SEARCH_GRAPH_DEFAULTS, SEARCH_GRAPH_NEEDS, SearchGraphConfig
from unisr.models.registry import register_model
from unisr.nn.adaptive_spectral import AdaptiveTreeEncoder, Filter
from unisr.nn.search_graph import SearchGraphNodes, search_scenarios
from unisr.nn.union_tree import UniformTreeRetriever


class AdaptiveGCNConfig(SearchGraphConfig):
    fanouts: list[int] = Field(default_factory=lambda: [10, 5], min_length=1)  # the sample = one small graph
    layers: int = Field(2, ge=1)  # SGC-LL layers (paper: not stated for this use)
    order: int = Field(3, ge=1)  # K Chebyshev terms T_0 .. T_{K-1} per layer
    alpha: float = Field(1.0, ge=0)  # L_hat = L + alpha L_res (0 = a plain Chebyshev filter on L)
    sigma: float = Field(1.0, gt=0)  # the Gaussian kernel's width
    filter: Filter = "agcn"  # "agcn": sum theta_k T_k X then W (the paper); "cheb": PyG ChebConv's W_k per term


@register_model("adaptive_gcn", config=AdaptiveGCNConfig, task="matching",
                paper="Li et al., AAAI'18 (AdaptiveGCN, SGC-LL), BOMGraph's table-2 baseline",
                needs=SEARCH_GRAPH_NEEDS, defaults=SEARCH_GRAPH_DEFAULTS)
class AdaptiveGCN(UniformTreeRetriever):
    """SGC-LL on each node's sampled neighbourhood graph, per search scenario.

    Shapes:
        user_vectors(batch) -> [B, dim]; item_vectors(item_index [N], scenario [N]) -> [N, dim]
    """

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg: AdaptiveGCNConfig) -> AdaptiveGCN:
        search, _ = search_scenarios(schema)
        nodes = SearchGraphNodes.from_config(schema, cfg)
        enc = nn.ModuleDict({n: AdaptiveTreeEncoder(cfg.dim, cfg.dim, cfg.fanouts, cfg.layers, cfg.order,
                                                    cfg.alpha, cfg.sigma, cfg.filter) for n in search})
        return cls(schema, cfg, enc, nodes)
