"""The retriever of BOMGraph's single-scenario baselines on uniformly sampled neighbourhoods (GraphSAGE,
AdaptiveGCN: Fan et al., CIKM'23, table 2): ``SearchGraphRetriever`` (node initialisation, categories, routing,
the eq. 13 objective) with, per search scenario o, a ``graph/samplers/union.py:UnionSampler`` over o's relations
(CE clicks of o, OE_o, SE_o; ``scenario_relations``) and one tree encoder that embeds every node of o's graph:
items, keyword queries (K) and triggers (S) alike. A visual query is no node; it is its projected embedding
(the base class). With several search scenarios each has its own sampler and encoder; only the node
initialisation is shared.

A seed's sample is a k-hop tree of ``fanouts`` (slot 0 = the seed, then hop 1, hop 2, ... flattened; padded
slots masked). The batch's positive pairs are removed from the sample (both directions, every hop: sec. 3.2's
re-sampling rule). In eval mode the draws are keyed by the seed node (an item's vector is the same in any batch).

Shapes:
    encoder(x [B, n, dim], mask [B, n]) -> [B, dim] (the seed's vector); n = 1 + f_1 + f_1 f_2 + ...
    sample_tree(name, node_type, local [B], pairs [P, 2] global | None, seed) -> (nodes [B, n], mask [B, n])
    tree_features(name, nodes [B, n], mask [B, n]) -> [B, n, dim]
    encode_scenario_items(name, kind, items [B], pairs [B, 2] | None, seed) -> [B, dim]
    encode_scenario_queries(name, kind, starts [B], pairs [B, 2] | None, seed) -> [B, dim]
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from unisr.data.features import FeatureSchema
from unisr.graph.samplers.union import QUERY_TYPE, ScenarioSamplers
from unisr.nn.search_graph import SearchGraphNodes, SearchGraphRetriever


class UniformTreeRetriever(SearchGraphRetriever):
    """Per search scenario: uniform k-hop trees over its relations through ``encoders[name]``.

    Shapes:
        user_vectors(batch) -> [B, dim]; item_vectors(item_index [N], scenario [N]) -> [N, dim]
    """

    def __init__(self, schema: FeatureSchema, cfg, encoders: nn.ModuleDict,  # noqa: ANN001 (config: .fanouts)
                 nodes: SearchGraphNodes | None = None) -> None:
        super().__init__(schema, cfg, nodes)
        missing = sorted(set(self.search) - set(encoders))
        if missing:
            raise ValueError(f"{type(self).__name__}: no encoder for search scenario(s) {missing}")
        self.encoders = encoders

    def make_sampler(self, graph) -> ScenarioSamplers:  # noqa: ANN001 (HeteroGraph)
        return ScenarioSamplers(graph, {n: self.kind_of[n] for n in self.search}, self.cfg.fanouts)

    def sample_tree(self, name: str, node_type: str, local: Tensor, pairs: Tensor | None, seed: int
                    ) -> tuple[Tensor, Tensor]:
        self._need_graph()
        smp = self.sampler[name]
        sample = smp.sample(smp.to_global(node_type, local), pairs, seed=seed, by_node=not self.training)
        return sample.flat()

    def tree_features(self, name: str, nodes: Tensor, mask: Tensor) -> Tensor:
        """Each sampled node's initialisation by its type (each distinct node embedded once); 0 where masked."""
        smp = self.sampler[name]
        uniq, inv = torch.unique(nodes[mask], return_inverse=True)
        types = smp.node_type(uniq)
        emb = self.nodes.embedders()
        feats = torch.zeros(len(uniq), self.cfg.dim)
        for ti, t in enumerate(smp.types):
            sel = torch.nonzero(types == ti).squeeze(1)
            if len(sel):
                feats = feats.index_put((sel,), emb[t](uniq[sel] - smp.offset[t]))
        x = torch.zeros(*nodes.shape, self.cfg.dim)
        return x.index_put(torch.nonzero(mask, as_tuple=True), feats[inv])

    def _global_pairs(self, name: str, a_type: str, b_type: str | None, pairs: Tensor | None) -> Tensor | None:
        smp = self.sampler[name]
        if pairs is None or b_type is None or b_type not in smp.offset or a_type not in smp.offset:
            return None  # a visual query is no node: no graph edge to leave out
        return torch.stack([smp.to_global(a_type, pairs[:, 0]), smp.to_global(b_type, pairs[:, 1])], 1)

    def _encode(self, name: str, node_type: str, local: Tensor, pairs: Tensor | None, seed: int) -> Tensor:
        nodes, mask = self.sample_tree(name, node_type, local, pairs, seed)
        return self.encoders[name](self.tree_features(name, nodes, mask), mask)

    def encode_scenario_items(self, name: str, kind: str, items: Tensor, pairs: Tensor | None, seed: int
                              ) -> Tensor:
        return self._encode(name, "item", items, self._global_pairs(name, "item", QUERY_TYPE.get(kind), pairs),
                            seed)

    def encode_scenario_queries(self, name: str, kind: str, starts: Tensor, pairs: Tensor | None, seed: int
                                ) -> Tensor:
        t = QUERY_TYPE[kind]
        return self._encode(name, t, starts, self._global_pairs(name, t, "item", pairs), seed)
