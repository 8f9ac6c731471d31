"""LasGNN, the single-scenario baseline of BOMGraph's table 2 (Fan et al., CIKM'23, sec. 4.1: "a metapath-based
graph neural network, which samples the neighbors layer-wise along the intra-scenario metapath and then
aggregates messages on the constructed subgraph"; footnote 3: Alibaba's Euler, whose LasGNN code is not public).

Built as the paper defines it (sec. 4.3.1: removing CL, DR and CS, "BOMGraph degrades to LasGNN"): per search
scenario o, items by a GAT on their intra-scenario metapath tree M_i^o through one Linear, queries by a GAT on
M_q^K / M_t^S, the same node initialisation, sampler, in-category negatives and loss (eq. 13) as BOMGraph; no
inter-scenario or shared GAT, no disentangled representation, no dropout contrastive loss, no cross-scenario
augmentation. The paper trains it on one scenario at a time (table 2): ``--set data.scenario_kinds=[...]`` with
one kind (the ``bomgraph`` suite's rows do); with several kinds each scenario has its own GATs and only the node
initialisation is shared (docs/models/baselines_bomgraph.md).

Shapes:
    user_vectors(batch) -> [B, dim]; item_vectors(item_index [N], scenario [N]) -> [N, dim]
"""

from __future__ import annotations

from pydantic import Field

from unisr.data.features import FeatureSchema
from unisr.models.graph_configs import SEARCH_GRAPH_DEFAULTS, SEARCH_GRAPH_NEEDS, SearchGraphConfig
from unisr.models.registry import register_model
from unisr.nn.multi_scenario_graph import MultiScenarioItemEncoder, ScenarioQueryEncoder
from unisr.nn.search_graph import MetapathRetriever, SearchGraphNodes, search_scenarios


class LasGNNConfig(SearchGraphConfig):
    heads: int = Field(1, ge=1)  # GAT heads (as BOMGraph)


@register_model("lasgnn", config=LasGNNConfig, task="matching",
                paper="LasGNN (Alibaba Euler), BOMGraph's table-2 baseline: GAT on intra-scenario metapaths",
                needs=SEARCH_GRAPH_NEEDS, defaults=SEARCH_GRAPH_DEFAULTS)
class LasGNN(MetapathRetriever):
    """Intra-scenario metapath GATs per scenario; no cross-scenario part.

    Shapes:
        user_vectors(batch) -> [B, dim]; item_vectors(item_index [N], scenario [N]) -> [N, dim]
    """

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg: LasGNNConfig) -> LasGNN:
        search, queries = search_scenarios(schema)
        nodes = SearchGraphNodes.from_config(schema, cfg)
        items_enc = MultiScenarioItemEncoder(cfg.dim, cfg.dim, search, cross_scenario=False, heads=cfg.heads)
        queries_enc = ScenarioQueryEncoder(cfg.dim, cfg.dim, queries, cfg.heads)
        return cls(schema, cfg, items_enc, queries_enc, None, nodes)
