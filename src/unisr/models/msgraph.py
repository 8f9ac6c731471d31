"""MSGraph, the multi-scenario graph baseline of BOMGraph's table 2 (Fan et al., CIKM'23, sec. 4.1: "a
multi-scenario graph neural network that samples neighbors layer-wise only along the intra-scenario metapath,
and then aggregates messages within the constructed intra-subgraph from the large multi-scenario graph"; the
paper's footnote points to Alibaba's Euler, whose MSGraph code is not public).

The reference followed is that sentence and the paper's reading of the result ("simply fusing multiple
scenarios is not enough", sec. 4.2): the three search scenarios fused in one model trained on all of them
(MSGraph-SKV), one intra-scenario metapath GAT for the items of every scenario and one for every query (keyword
or trigger), i.e. no scenario-specific part, no inter-scenario metapath, no disentangled representation, no
contrastive loss or augmentation; the same graph, node initialisation, in-category negatives and loss (eq. 13)
as BOMGraph. Items still get one vector per scenario, from that scenario's intra-scenario tree.

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


class MSGraphConfig(SearchGraphConfig):
    heads: int = Field(1, ge=1)  # GAT heads (as BOMGraph)


@register_model("msgraph", config=MSGraphConfig, task="matching",
                paper="MSGraph (Alibaba Euler), BOMGraph's table-2 baseline: one fused intra-scenario metapath GAT",
                needs=SEARCH_GRAPH_NEEDS, defaults=SEARCH_GRAPH_DEFAULTS)
class MSGraph(MetapathRetriever):
    """One intra-scenario metapath GAT shared by every search scenario (items) and one by every query.

    Shapes:
        user_vectors(batch) -> [B, dim]; item_vectors(item_index [N], scenario [N]) -> [N, dim]
    """

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg: MSGraphConfig) -> MSGraph:
        search, queries = search_scenarios(schema)
        nodes = SearchGraphNodes.from_config(schema, cfg)
        items_enc = MultiScenarioItemEncoder(cfg.dim, cfg.dim, search, cross_scenario=False, heads=cfg.heads,
                                             scenario_specific=False)
        queries_enc = ScenarioQueryEncoder(cfg.dim, cfg.dim, queries, cfg.heads, scenario_specific=False)
        return cls(schema, cfg, items_enc, queries_enc, None, nodes)
