"""GraphSAGE (Hamilton, Ying, Leskovec, NIPS'17), the single-scenario baseline of BOMGraph's table 2 (Fan et al.,
CIKM'23, ref. [10]: "generates embeddings by sampling and aggregating features from a node's local neighborhood
instead of training individual embeddings for each node").

Per search scenario o: every node of o's graph (items, keyword queries for K, triggers for S) is embedded by one
``nn/sage_tree.py:SAGETreeEncoder`` (PyG ``SAGEConv``, mean aggregator) on a uniform k-hop sample over the union
of o's relations (``graph/samplers/union.py``: CE clicks of o, OE_o, SE_o; not along metapaths, the contrast the
paper draws with LasGNN), from the node initialisation BOMGraph uses; a visual query is its projected embedding.
The same graph, features, splits, in-category retrieval and loss (eq. 13, ``train/bomgraph.py``) as BOMGraph.
The paper trains it on one scenario at a time (``--set 'data.scenario_kinds=[search_text]'``); with several
kinds each scenario has its own sampler and encoder (docs/models/baselines_bomgraph.md).

Shapes:
    user_vectors(batch) -> [B, dim]; item_vectors(item_index [N], scenario [N]) -> [N, dim]
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from torch import nn

from unisr.data.features import FeatureSchema
from unisr.models.graph_configs import SEARCH_GRAPH_DEFAULTS, SEARCH_GRAPH_NEEDS, SearchGraphConfig
from unisr.models.registry import register_model
from unisr.nn.sage_tree import SAGETreeEncoder
from unisr.nn.search_graph import SearchGraphNodes, search_scenarios
from unisr.nn.union_tree import UniformTreeRetriever


class GraphSAGEConfig(SearchGraphConfig):
    # neighbours sampled per node at hop 1, 2, ... = the number of SAGEConv layers (GraphSAGE: K = 2,
    # S_1 = 25, S_2 = 10; BOMGraph samples 3 + 3 per metapath; see docs/models/baselines_bomgraph.md)
    fanouts: list[int] = Field(default_factory=lambda: [10, 5], min_length=1)
    aggr: Literal["mean", "max", "sum"] = "mean"  # GraphSAGE-mean (the paper's pooling / LSTM are not built)
    normalize: bool = True  # algorithm 1's h <- h / ||h|| after each hidden layer


@register_model("graphsage", config=GraphSAGEConfig, task="matching",
                paper="Hamilton et al., NIPS'17 (GraphSAGE), BOMGraph's table-2 baseline: uniform k-hop sampling",
                needs=SEARCH_GRAPH_NEEDS, defaults=SEARCH_GRAPH_DEFAULTS)
class GraphSAGE(UniformTreeRetriever):
    """SAGEConv on uniform k-hop samples of each search scenario's graph.

    Shapes:
        user_vectors(batch) -> [B, dim]; item_vectors(item_index [N], scenario [N]) -> [N, dim]
    """

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg: GraphSAGEConfig) -> GraphSAGE:
        search, _ = search_scenarios(schema)
        nodes = SearchGraphNodes.from_config(schema, cfg)
        enc = nn.ModuleDict({n: SAGETreeEncoder(cfg.dim, cfg.dim, cfg.fanouts, cfg.aggr, cfg.normalize)
                             for n in search})
        return cls(schema, cfg, enc, nodes)
