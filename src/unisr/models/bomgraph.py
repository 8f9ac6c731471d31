"""BOMGraph (Fan et al., CIKM'23): one graph model for similar-product (S), textual (K) and visual (V) search
retrieval, on the heterogeneous graph of triggers, keywords and items (``graph/build.py``: CE, OE_o, SE_o) and
its metapaths (``graph/samplers/metapath.py``). See docs/models/bomgraph.md for every equation's code.

Node initialisation (sec. 3.2), the attached graph, the query categories and the routing by scenario are
``nn/search_graph.py:SearchGraphRetriever`` (shared with the table-2 baselines). Query vector (eq. 4): a keyword
by ``ScenarioQueryEncoder`` on M_q^K, a trigger on M_t^S, a visual query by its projected embedding. Item vector
per search scenario o (eq. 5): ``MultiScenarioItemEncoder`` on M_i^o and on the inter-scenario metapath starting
from o, then the disentangled representation (eqs. 6-10, ``nn/disentangle.py``); the retrieved vector is the
refined item, L2-normalised (one vector and one index per search scenario). Every item vector, the corpus
embedding of evaluation included, is a function of its sampled neighbourhood. In eval mode the sampler's seed is
fixed, so an item's vector does not depend on the batch it is embedded in.

Shapes:
    user_vectors(batch) -> [B, dim] (the row's query); item_vectors(item_index [N], scenario [N]) -> [N, dim]
    encode_items(item_index [N], scenario [N], positives) -> (i [N, dim], i_bar [N, dim], f [N, M, dim], z [N, dim])
    query_group(batch) -> [B] long (the query node a row's retrieval is evaluated for)
"""

from __future__ import annotations

from pydantic import Field, field_validator

from unisr.data.features import FeatureSchema
from unisr.models.graph_configs import SEARCH_GRAPH_DEFAULTS, SEARCH_GRAPH_NEEDS, SearchGraphConfig
from unisr.models.registry import register_model
from unisr.nn.disentangle import Activation, Disentangle
from unisr.nn.multi_scenario_graph import MultiScenarioItemEncoder, ScenarioQueryEncoder
from unisr.nn.search_graph import MetapathRetriever, SearchGraphNodes, search_scenarios


class BOMGraphConfig(SearchGraphConfig):
    heads: int = Field(1, ge=1)  # GAT heads (paper: not stated)
    cross_scenario: bool = True  # False = "w/o CS" (table 3)
    disentangle: bool = True  # False = "w/o DR" (table 3)
    counterparts: int = Field(3, ge=2)  # M of eq. 6 (paper: 3)
    activation: Activation = "tanh"  # sigma of eq. 6 (paper: not named)
    lambda_dr: float = Field(0.02, ge=0)  # lambda_1 of eq. 15 (paper: 0.02)
    lambda_cl: float = Field(1e-4, ge=0)  # lambda_2 of eq. 15 (paper: 0.0001)
    contrastive: bool = True  # False = "w/o CL" (the dropout contrastive loss, eq. 14)
    augment: bool = True  # cross-scenario augmentation (sec. 3.4; off with contrastive in "w/o CL")

    @field_validator("subset")
    @classmethod
    def _subset(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and "search_similar" not in v:
            raise ValueError("a scenario subset always includes search_similar (the paper: 'we always "
                             "incorporate it in the joint training')")
        return v


@register_model("bomgraph", config=BOMGraphConfig, task="matching",
                paper="Fan et al., CIKM'23 (BOMGraph: metapath graph + disentangled items + contrastive search)",
                needs=SEARCH_GRAPH_NEEDS, defaults=SEARCH_GRAPH_DEFAULTS)
class BOMGraph(MetapathRetriever):
    """BOMGraph: metapath GATs per scenario + shared + inter-scenario, disentangled item vectors per scenario.

    Shapes:
        user_vectors(batch) -> [B, dim]; item_vectors(item_index [N], scenario [N]) -> [N, dim]
    """

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg: BOMGraphConfig) -> BOMGraph:
        search, queries = search_scenarios(schema)
        nodes = SearchGraphNodes.from_config(schema, cfg)  # built first: the weights' draw order
        items_enc = MultiScenarioItemEncoder(cfg.dim, cfg.dim, search, cfg.cross_scenario, cfg.heads)
        queries_enc = ScenarioQueryEncoder(cfg.dim, cfg.dim, queries, cfg.heads)
        dr = Disentangle(cfg.dim, cfg.dim, cfg.counterparts, cfg.activation) if cfg.disentangle else None
        return cls(schema, cfg, items_enc, queries_enc, dr, nodes)
