"""What BOMGraph (Fan et al., CIKM'23) and its graph baselines (GraphSAGE, AdaptiveGCN, LasGNN, MSGraph, the
paper's table 2) share: the node initialisation of sec. 3.2, the attached graph and query table, each query's
retrieval category (sec. 4.1) and the two towers' routing by search scenario. A model subclasses
``SearchGraphRetriever`` and supplies its graph encoder: ``make_sampler`` (what it samples from the attached
graph), ``encode_scenario_items`` and ``encode_scenario_queries`` (one search scenario's rows); the training
objective (eq. 13 and, for BOMGraph, eqs. 12 and 14: ``train/bomgraph.py``) reads the same interface for all.

Node initialisation (``SearchGraphNodes``): an item (and a trigger, which is an item of the display page) is its
id embedding, its ``image_emb`` through a projection and the mean of its title-term embeddings, concatenated
and passed through one Linear; a keyword query is its id embedding and the mean of its term embeddings (one term
table for titles and queries) through a Linear. A visual query is no node (the paper): its ``query.emb``
through the image projection shared with the items, then a Linear.

Shapes:
    SearchGraphNodes.item_init(items [n]) -> [n, dim]; query_init(nodes [n]) -> [n, dim]; visual(emb [n, E])
    SearchGraphRetriever.user_vectors(batch) -> [B, dim]; item_vectors(item_index [N], scenario [N]) -> [N, dim]
    encode_items(item_index [N], scenario [N], pair_nodes [N] | None) -> (i, i_bar [N, dim], f, z | None)
    query_group(batch) -> [B] long; query_category(batch) -> [B] long (-1 unknown)
    MetapathRetriever(schema, cfg, items_enc, queries_enc, dr): the same towers on metapath trees
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unisr.data.batch import Batch
from unisr.data.features import FeatureEncoder, FeatureSchema
from unisr.graph.subgraph import MetapathTree

# the search kinds and their metapaths (graph/samplers/metapath.py names them)
SEARCH_KINDS = ("search_text", "search_visual", "search_similar")
INTRA = {"search_similar": "M_i^S", "search_text": "M_i^K", "search_visual": "M_i^V"}
INTER = {"search_similar": "M^{S-K-V}", "search_text": "M^{K-V-S}", "search_visual": "M^{V-S-K}"}
QUERY_PATH = {"search_text": "M_q^K", "search_similar": "M_t^S"}
# positives excluded from each path's sample: the node type whose (start, node) pairs are the batch's clicks
EXCLUDE = {"M_q^K": "item", "M_t^S": "item", "M_i^K": "query", "M_i^S": "trigger"}
EVAL_SEED = 12345
# SearchGraphNodes' parameters and buffers (their old top-level names in BOMGraph checkpoints)
NODE_KEYS = ("terms", "item_id", "image", "item_fc", "query_id", "query_fc", "visual_fc", "item_image",
             "item_terms")


def search_scenarios(schema: FeatureSchema) -> tuple[list[str], list[str]]:
    """The schema's search scenarios (one item encoder each) and those of them with query nodes (keyword and
    similar-product search; a visual query is no node)."""
    pairs = list(zip(schema.scenarios, schema.scenario_kinds, strict=False))
    return [n for n, k in pairs if k in INTRA], [n for n, k in pairs if k in QUERY_PATH]


class SearchGraphNodes(nn.Module):
    """Sec. 3.2's node initialisation for items / triggers, keyword queries and visual queries.

    Shapes:
        item_init(items [n]) -> [n, dim]; query_init(nodes [n]) -> [n, dim]; visual(emb [n, E]) -> [n, dim]
    """

    def __init__(self, schema: FeatureSchema, dim: int, id_dim: int, term_dim: int, query_buckets: int,
                 sparse: bool = False) -> None:
        super().__init__()
        n_items = schema.num_items
        title = schema.sequence("item.title_tokens")
        qtok = schema.sequence("query_tokens")
        vocab = max(f.vocab_size for f in (title, qtok) if f is not None) if (title or qtok) else 1
        # sparse=True: the tables' gradients are sparse (a sparse optimizer, train/optim.py): a step embeds the
        # nodes of ~100 metapath trees, each lookup's dense gradient would zero-fill the whole table
        self.terms = nn.Embedding(vocab, term_dim, padding_idx=0, sparse=sparse)
        self.item_id = nn.Embedding(n_items + 1, id_dim, sparse=sparse)
        img = next((v for v in schema.vectors if v.name == "item.image_emb"), None)
        self.img_dim = img.dim if img is not None else 0
        self.image = nn.Linear(self.img_dim, dim) if self.img_dim else None
        self.item_fc = nn.Linear(id_dim + term_dim + (dim if self.img_dim else 0), dim)
        self.query_id = nn.Embedding(query_buckets, id_dim, sparse=sparse)  # keyword ids, hashed (docs/models/bomgraph.md)
        self.query_fc = nn.Linear(id_dim + term_dim, dim)
        self.visual_fc = nn.Linear(dim, dim)
        self.register_buffer("item_image", torch.zeros(n_items + 1, max(self.img_dim, 1)))
        self.register_buffer("item_terms", torch.zeros(n_items + 1, title.max_len if title else 1, dtype=torch.long))
        self.register_buffer("query_terms", torch.zeros(1, 1, dtype=torch.long), persistent=False)

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg) -> SearchGraphNodes:  # noqa: ANN001 (SearchGraphConfig)
        from unisr.nn.embedding import sparse_gradients

        return cls(schema, cfg.dim, cfg.id_dim, cfg.term_dim, cfg.query_buckets,
                   sparse=sparse_gradients(schema.num_items + 1, cfg.sparse_grad))

    def attach_items(self, encoder: FeatureEncoder) -> None:
        if self.img_dim and "item.image_emb" in encoder.item_vec:
            self.item_image.copy_(torch.as_tensor(encoder.item_vec["item.image_emb"]))
        seq = encoder.item_seq.get("item.title_tokens")
        if seq is not None:
            ids, mask = (np.asarray(x) for x in seq)
            self.item_terms.copy_(torch.as_tensor(np.where(mask, ids, 0)[:, :self.item_terms.shape[1]]))

    def _mean_terms(self, ids: Tensor) -> Tensor:
        m = (ids > 0).float()
        return (self.terms(ids) * m.unsqueeze(-1)).sum(1) / m.sum(1, keepdim=True).clamp_min(1.0)

    def item_init(self, items: Tensor) -> Tensor:
        parts = [self.item_id(items), self._mean_terms(self.item_terms[items])]
        if self.image is not None:
            parts.append(self.image(self.item_image[items]))
        return self.item_fc(torch.cat(parts, 1))

    def query_init(self, nodes: Tensor) -> Tensor:
        qid = self.query_id(nodes % self.query_id.num_embeddings)
        return self.query_fc(torch.cat([qid, self._mean_terms(self.query_terms[nodes])], 1))

    def visual(self, emb: Tensor) -> Tensor:
        if self.image is None:
            raise ValueError("visual search needs query.emb and item.image_emb vectors in the schema")
        return self.visual_fc(self.image(emb))

    def embedders(self) -> dict:
        """Node type -> indices [n] -> [n, dim] (the graph's item, trigger and query nodes)."""
        return {"item": self.item_init, "trigger": self.item_init, "query": self.query_init}


class SearchGraphRetriever(nn.Module):
    """Base of the search-graph retrievers: the attached graph, categories and routing by search scenario.

    ``cfg`` is a ``models/graph_configs.py:SearchGraphConfig``. A subclass sets ``self.dr`` (the disentangled
    representation of eqs. 6-10, or None) and implements ``make_sampler``, ``encode_scenario_items`` and
    ``encode_scenario_queries``.

    Shapes:
        user_vectors(batch) -> [B, dim]; item_vectors(item_index [N], scenario [N]) -> [N, dim]
    """

    scenario_items = True  # one item vector and one index per search scenario

    def __init__(self, schema: FeatureSchema, cfg, nodes: SearchGraphNodes | None = None) -> None:  # noqa: ANN001
        super().__init__()
        self.cfg = cfg  # SearchGraphConfig
        self.names = list(schema.scenarios)
        self.kinds = list(schema.scenario_kinds)
        self.nodes = nodes if nodes is not None else SearchGraphNodes.from_config(schema, cfg)
        self.search = [n for n, k in zip(self.names, self.kinds, strict=False) if k in INTRA]
        self.kind_of = dict(zip(self.names, self.kinds, strict=False))
        self.dr: nn.Module | None = None
        self.register_buffer("query_node", torch.zeros(1, dtype=torch.long), persistent=False)
        self.sampler = None
        self.calls = 0
        self.retrieval_category = None  # [N + 1] set by attach_graph when model.in_category
        self.image_knn = None  # faiss index over the items' image vectors, set by attach_graph (visual classifier)
        self.knn_category = np.zeros(0, np.int64)

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg):  # noqa: ANN001, ANN206
        return cls(schema, cfg)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:  # noqa: ANN001, ANN002, ANN003
        """A checkpoint written before the node initialisation moved into ``self.nodes`` (2026-12-07: keys
        ``terms.weight``, ``item_fc.weight``, ... at the top) loads under the new names."""
        for name in NODE_KEYS:
            for key in [k for k in state_dict if k.startswith(f"{prefix}{name}.") or k == f"{prefix}{name}"]:
                state_dict[f"{prefix}nodes.{key[len(prefix):]}"] = state_dict.pop(key)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # ------------------------------------------------------------------ to implement
    def make_sampler(self, graph):  # noqa: ANN001, ANN201 (HeteroGraph -> the model's sampler)
        raise NotImplementedError

    def encode_scenario_items(self, name: str, kind: str, items: Tensor, pairs: Tensor | None, seed: int
                              ) -> Tensor:
        """[n, dim] item vectors of one search scenario; ``pairs`` [n, 2] (item, query / trigger node) = batch
        positives to exclude from the sample (None at evaluation)."""
        raise NotImplementedError

    def encode_scenario_queries(self, name: str, kind: str, starts: Tensor, pairs: Tensor | None, seed: int
                                ) -> Tensor:
        """[n, dim] query vectors of one keyword / similar-product scenario (``starts``: query / trigger nodes;
        ``pairs`` [n, 2] (node, positive item) to exclude)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ shared
    def graph_config(self):  # noqa: ANN201
        """The graph this model samples from (the paper's SE threshold, the scenario subset)."""
        from unisr.graph.build import GraphConfig

        subset = None if self.cfg.subset is None else tuple(
            n for n, k in zip(self.names, self.kinds, strict=False) if k in self.cfg.subset)
        return GraphConfig(se_threshold=self.cfg.se_threshold, behaviour_scenarios=subset,
                           ce_query_kinds=("text",) if self.cfg.text_query_ce else None)

    def training_stages(self) -> list[dict]:
        """One stage: eq. 13 (+ 12 and 14 where enabled; ``train/bomgraph.py:BOMGraphObjective``), validated and
        early-stopped."""
        return [{"name": "train", "objective": "unisr.train.bomgraph:BOMGraphObjective", "sets": {},
                 "evaluate": True}]

    def attach_items(self, encoder: FeatureEncoder) -> None:
        self.nodes.attach_items(encoder)

    def attach_graph(self, graph, queries) -> None:  # noqa: ANN001 (HeteroGraph, data.side_tables.QueryTable)
        """The model's sampler on ``graph``, the query nodes' terms (graph query node -> QueryTable row) and the
        categories of items and queries."""
        self.sampler = self.make_sampler(graph)
        n_q = graph.num_nodes.get("query", 1)
        terms = np.zeros((n_q, 1), np.int64)
        node = np.zeros(1, np.int64)
        if queries is not None and queries.tokens is not None:
            rows = np.zeros(n_q, np.int64)
            rows[1:] = queries.vocab.lookup(graph.query_ids)
            terms = queries.tokens[rows] * queries.mask[rows]
            # QueryTable row -> graph query node (0 = none: a trigger or an unknown query)
            node = np.zeros(len(queries.tokens), np.int64)
            node[rows[1:]] = np.arange(1, n_q)
        self.nodes.query_terms = torch.as_tensor(terms)
        self.query_node = torch.as_tensor(node)
        path = np.asarray(graph.item_category_path, np.int64)
        cat = path[:, min(self.cfg.category_level, path.shape[1] - 1)]
        self.item_category = cat  # [N + 1] the level used for negatives and in-category retrieval (-1 unknown)
        # a query's category (the data's, a leaf) -> the same level, through the items' paths
        depth = np.clip((path >= 0).sum(1, keepdims=True) - 1, 0, None)  # paths are -1 padded at the end
        last = np.take_along_axis(path, depth, 1)[:, 0]  # each item's leaf
        leaf_to = np.full(max(int(last.max(initial=0)), 0) + 2, -1, np.int64)
        ok = (last >= 0) & (cat >= 0)
        leaf_to[last[ok]] = cat[ok]
        self.query_row_category = np.full(len(self.query_node), -1, np.int64)
        if queries is not None and queries.category is not None:
            raw = queries.category[:, 0].astype(np.int64) - 1  # category id + 1 -> id (-1 none)
            good = (raw >= 0) & (raw < len(leaf_to) - 1)
            self.query_row_category[good] = leaf_to[raw[good]]
        self.retrieval_category = cat if self.cfg.in_category else None
        self.image_knn = self._image_knn(cat)

    def _image_knn(self, cat: np.ndarray):  # noqa: ANN202 (faiss.IndexFlatIP | None)
        """An exact cosine index over the unit image vectors of the items with a category (row r = the r-th
        such item, ``self.knn_category[r]`` its category): the visual query classifier."""
        img = self.nodes.item_image
        if not self.nodes.img_dim or not len(cat) or cat.max(initial=-1) < 0:
            return None
        import faiss

        ok = np.flatnonzero(cat >= 0)
        ok = ok[ok > 0]  # entity 0 is the OOV row
        index = faiss.IndexFlatIP(self.nodes.img_dim)
        index.add(np.ascontiguousarray(F.normalize(img[torch.as_tensor(ok)], dim=-1).numpy(), np.float32))
        self.knn_category = cat[ok]
        return index

    def visual_query_category(self, emb: Tensor) -> Tensor:
        """[B] the majority category of the ``visual_knn`` items whose image vectors are nearest (cosine) to each
        visual query embedding [B, image dim] (ties: the smallest category id)."""
        if self.image_knn is None:
            raise RuntimeError(f"{type(self).__name__}: no image index (attach_graph with item image vectors "
                               "first)")
        k = min(self.cfg.visual_knn, self.image_knn.ntotal)
        _, rows = self.image_knn.search(np.ascontiguousarray(F.normalize(emb.float(), dim=-1).numpy()), k)
        votes = self.knn_category[rows]  # [B, k]
        n_cat = int(self.knn_category.max()) + 1
        counts = np.zeros((len(votes), n_cat), np.int64)
        np.add.at(counts, (np.repeat(np.arange(len(votes)), k), votes.ravel()), 1)
        return torch.as_tensor(counts.argmax(1))

    def _need_graph(self) -> None:
        if self.sampler is None:
            raise RuntimeError(f"{type(self).__name__} has no graph attached: call attach_graph(graph, queries) "
                               "first")

    def _seed(self) -> int:
        """The sampler's seed: a new one per training call; fixed in eval mode, so an item's vector does not
        depend on the batch it is embedded in (the corpus, a served request)."""
        if not self.training:
            return EVAL_SEED
        self.calls += 1
        return self.calls

    def encode_items(self, item_index: Tensor, scenario: Tensor, pair_nodes: Tensor | None = None
                     ) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
        """The graph encoder per row's scenario, then (``self.dr``) eqs. 6-10. ``pair_nodes`` [N]: the query /
        trigger node each row is a batch positive of (excluded from its item's sample; None at evaluation)."""
        self._need_graph()
        seed = self._seed()
        out = torch.zeros(len(item_index), self.cfg.dim)
        for s in torch.unique(scenario).tolist():
            name = self.names[s]
            if name not in self.search:
                raise ValueError(f"{type(self).__name__} embeds items of search scenarios only; scenario {name!r} "
                                 f"is {self.kind_of.get(name)!r}")
            rows = torch.nonzero(scenario == s).squeeze(1)
            items = item_index[rows]
            pairs = torch.stack([items, pair_nodes[rows]], 1) if pair_nodes is not None else None
            out = out.index_put((rows,), self.encode_scenario_items(name, self.kind_of[name], items, pairs, seed))
        if self.dr is None:
            return out, out, None, None
        i_bar, f, z = self.dr(out)
        return out, i_bar, f, z

    def item_vectors(self, item_index: Tensor, scenario: Tensor) -> Tensor:
        return F.normalize(self.encode_items(item_index, scenario)[1], dim=-1)

    def query_vectors(self, batch: Batch, positives: Tensor | None = None) -> Tensor:
        """The query tower per row's scenario; ``positives`` [B]: each row's positive item (excluded from its
        sample). A visual query is its projected embedding (no node)."""
        self._need_graph()
        seed = self._seed()
        out = torch.zeros(len(batch), self.cfg.dim)
        nodes = self.query_group(batch)
        for s in torch.unique(batch.scenario_id).tolist():
            name = self.names[s]
            kind = self.kind_of.get(name)
            rows = torch.nonzero(batch.scenario_id == s).squeeze(1)
            if kind == "search_visual":
                v = batch.vectors.get("query.emb")
                if v is None:
                    raise ValueError("visual search needs query.emb and item.image_emb vectors in the schema")
                out = out.index_put((rows,), self.nodes.visual(v[rows]))
                continue
            if kind not in QUERY_PATH:
                raise ValueError(f"{type(self).__name__} answers search scenarios only; {name!r} is {kind!r}")
            starts = nodes[rows]
            pairs = torch.stack([starts, positives[rows]], 1) if positives is not None else None
            out = out.index_put((rows,), self.encode_scenario_queries(name, kind, starts, pairs, seed))
        return out

    def user_vectors(self, batch: Batch) -> Tensor:
        return F.normalize(self.query_vectors(batch), dim=-1)

    def query_group(self, batch: Batch) -> Tensor:
        """The node a row queries with: the trigger item (S), the keyword's graph node (K), the QueryTable row
        of a visual query (V, no node)."""
        g = torch.zeros(len(batch), dtype=torch.long)
        qi = batch.query_index if batch.query_index is not None else g
        for s in torch.unique(batch.scenario_id).tolist():
            m = batch.scenario_id == s
            kind = self.kind_of.get(self.names[s])
            if kind == "search_similar" and batch.trigger_index is not None:
                g[m] = batch.trigger_index[m]
            elif kind == "search_text":
                g[m] = self.query_node[qi[m].clamp(0, len(self.query_node) - 1)]
            else:
                g[m] = qi[m]
        return g

    def query_category(self, batch: Batch) -> Tensor:
        """The category each row retrieves in (``category_level``): the trigger item's (S); the nearest items'
        category by image (V, ``visual_category = "classifier"``, the paper's category prediction);
        the query's category in the data (K, and V with ``"data"``). -1 = unknown."""
        qi = batch.query_index.numpy() if batch.query_index is not None else np.zeros(len(batch), np.int64)
        qc = self.query_row_category[np.clip(qi, 0, len(self.query_row_category) - 1)]
        if batch.trigger_index is not None:
            trig = batch.trigger_index.numpy()
            tc = self.item_category[np.clip(trig, 0, len(self.item_category) - 1)]
            qc = np.where(trig > 0, tc, qc)
        emb = batch.vectors.get("query.emb") if batch.vectors else None
        if self.cfg.visual_category == "classifier" and emb is not None:
            vis = torch.zeros(len(batch), dtype=torch.bool)
            for s in torch.unique(batch.scenario_id).tolist():
                if self.kind_of.get(self.names[s]) == "search_visual":
                    vis |= batch.scenario_id == s
            if bool(vis.any()):
                qc = qc.copy()
                qc[vis.numpy()] = self.visual_query_category(emb[vis]).numpy()
        return torch.as_tensor(qc)

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        u = self.user_vectors(batch)
        v = self.item_vectors(batch.item_index, batch.scenario_id)
        return {"click": (u * v).sum(1)}


class MetapathRetriever(SearchGraphRetriever):
    """A retriever on metapath trees (``graph/samplers/metapath.py``): items by ``items_enc`` on the intra-scenario
    metapath M_i^o (and, when the encoder is cross-scenario, the inter-scenario one from o), queries by
    ``queries_enc`` on M_q^K / M_t^S, then ``dr`` (or none). BOMGraph, LasGNN and MSGraph differ only in the
    modules passed in (``nn/multi_scenario_graph.py``, ``nn/disentangle.py``).

    Shapes:
        encode_scenario_items(name, kind, items [n], pairs [n, 2] | None, seed) -> [n, dim]
        encode_scenario_queries(name, kind, starts [n], pairs [n, 2] | None, seed) -> [n, dim]
    """

    def __init__(self, schema: FeatureSchema, cfg, items_enc: nn.Module, queries_enc: nn.Module,  # noqa: ANN001
                 dr: nn.Module | None = None, nodes: SearchGraphNodes | None = None) -> None:
        super().__init__(schema, cfg, nodes)
        self.items_enc = items_enc  # MultiScenarioItemEncoder
        self.queries_enc = queries_enc  # ScenarioQueryEncoder
        self.dr = dr

    def make_sampler(self, graph):  # noqa: ANN001, ANN201
        from unisr.graph.samplers.metapath import MetapathSampler

        return MetapathSampler(graph, one_hop=self.cfg.one_hop, two_hop=self.cfg.two_hop)

    def _tree(self, path: str, starts: Tensor, pairs: Tensor | None, seed: int) -> MetapathTree:
        pos = {EXCLUDE[path]: pairs} if pairs is not None and path in EXCLUDE else None
        # eval: keyed by node, so an item's vector is the same in any batch (the corpus, a served request)
        return MetapathTree.from_blocks(self.sampler.sample_path(path, starts, pos, seed=seed,
                                                                 by_node=not self.training))

    def encode_scenario_items(self, name: str, kind: str, items: Tensor, pairs: Tensor | None, seed: int
                              ) -> Tensor:
        """Eq. 5: the intra-scenario tree M_i^o (+ the inter-scenario tree from o with a cross-scenario
        encoder)."""
        intra_path = INTRA[kind]
        if intra_path not in self.sampler.paths:
            raise ValueError(f"metapath {intra_path} of {name!r} has no relation in the graph")
        intra = self._tree(intra_path, items, pairs, seed)
        inter = (self._tree(INTER[kind], items, None, seed)
                 if self.items_enc.cross_scenario and INTER[kind] in self.sampler.paths else None)
        return self.items_enc(name, intra, inter, self.nodes.embedders())

    def encode_scenario_queries(self, name: str, kind: str, starts: Tensor, pairs: Tensor | None, seed: int
                                ) -> Tensor:
        """Eq. 4: the query's (M_q^K) or trigger's (M_t^S) tree through its scenario's GAT."""
        return self.queries_enc(name, self._tree(QUERY_PATH[kind], starts, pairs, seed), self.nodes.embedders())
