"""BOMGraph (Fan et al., CIKM'23): one graph model for similar-product (S), textual (K) and visual (V) search
retrieval, on the heterogeneous graph of triggers, keywords and items (``graph/build.py``: CE, OE_o, SE_o) and
its metapaths (``graph/samplers/metapath.py``). See docs/models/bomgraph.md for every equation's code.

Node initialisation (sec. 3.2): an item (and a trigger, which is an item of the display page) is its id
embedding, its ``image_emb`` through a projection and the mean of its title-term embeddings, concatenated and
passed through one Linear; a keyword query is its id embedding and the mean of its term embeddings (one term
table for titles and queries) through a Linear. A visual query is no node (the paper): its ``query.emb``
through the image projection shared with the items, then a Linear.

Query vector (eq. 4): a keyword by ``ScenarioQueryEncoder`` on M_q^K, a trigger on M_t^S, a visual query by its
projected embedding. Item vector per search scenario o (eq. 5): ``MultiScenarioItemEncoder`` on M_i^o and on the
inter-scenario metapath starting from o, then the disentangled representation (eqs. 6-10, ``nn/disentangle.py``);
the retrieved vector is the refined item, L2-normalised (``scenario_items``: one vector and one index per
search scenario). The graph and the query table are attached (``attach_graph``): every item vector, the corpus
embedding of evaluation included, is a function of its sampled neighbourhood. In eval mode the sampler's seed is
fixed, so an item's vector does not depend on the batch it is embedded in.

Shapes:
    user_vectors(batch) -> [B, dim] (the row's query); item_vectors(item_index [N], scenario [N]) -> [N, dim]
    encode_items(item_index [N], scenario [N], positives) -> (i [N, dim], i_bar [N, dim], f [N, M, dim], z [N, dim])
    query_group(batch) -> [B] long (the query node a row's retrieval is evaluated for)
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field, field_validator
from torch import Tensor, nn

from unisr.data.batch import Batch
from unisr.data.features import FeatureEncoder, FeatureSchema
from unisr.graph.subgraph import MetapathTree
from unisr.models.registry import ModelConfig, register_model
from unisr.nn.disentangle import Activation, Disentangle
from unisr.nn.multi_scenario_graph import MultiScenarioItemEncoder, ScenarioQueryEncoder

INTRA = {"search_similar": "M_i^S", "search_text": "M_i^K", "search_visual": "M_i^V"}
INTER = {"search_similar": "M^{S-K-V}", "search_text": "M^{K-V-S}", "search_visual": "M^{V-S-K}"}
QUERY_PATH = {"search_text": "M_q^K", "search_similar": "M_t^S"}
# positives excluded from each path's sample: the node type whose (start, node) pairs are the batch's clicks
EXCLUDE = {"M_q^K": "item", "M_t^S": "item", "M_i^K": "query", "M_i^S": "trigger"}
EVAL_SEED = 12345


class BOMGraphConfig(ModelConfig):
    dim: int = Field(128, ge=2)  # node embedding after GAT, FC and query / item vectors (paper: 128)
    id_dim: int = Field(32, ge=1)  # id embedding width before the node FC (paper: not stated)
    term_dim: int = Field(50, ge=1)  # title / query term embedding (paper: 50-d word2vec)
    heads: int = Field(1, ge=1)  # GAT heads (paper: not stated)
    one_hop: int = Field(3, ge=1)  # paper: 3
    two_hop: int = Field(3, ge=1)  # paper: 3
    cross_scenario: bool = True  # False = "w/o CS" (table 3)
    disentangle: bool = True  # False = "w/o DR" (table 3)
    dr_steps: tuple[bool, bool, bool] = (True, True, True)  # RD, CT, CA (table 4)
    counterparts: int = Field(3, ge=2)  # M of eq. 6 (paper: 3)
    activation: Activation = "tanh"  # sigma of eq. 6 (paper: not named)
    betas: tuple[float, float, float] = (0.5, 0.7, 0.2)  # eq. 12 (paper: 0.5, 0.7, 0.2)
    lambda_dr: float = Field(0.02, ge=0)  # lambda_1 of eq. 15 (paper: 0.02)
    lambda_cl: float = Field(1e-4, ge=0)  # lambda_2 of eq. 15 (paper: 0.0001)
    contrastive: bool = True  # False = "w/o CL" (the dropout contrastive loss, eq. 14)
    augment: bool = True  # cross-scenario augmentation (sec. 3.4; off with contrastive in "w/o CL")
    keep_prob: float = Field(0.7, gt=0, le=1)  # p_d of eq. 14 (paper: 0.7)
    negatives: int = Field(10, ge=1)  # M in-category negatives of eq. 13 (paper: not stated)
    shared_negatives: bool = True  # one draw of M per (scenario, category) of a batch, shared by its rows (the
    # encoder runs per draw, not per row: see docs/models/bomgraph.md); False = M draws of each row's own
    temperature: float = Field(0.1, gt=0)  # tau of eqs. 7, 13, 14 (paper: not stated)
    category_level: int = Field(1, ge=0)  # category path level of the in-category negatives (1 = level 2)
    query_buckets: int = Field(65536, ge=1)  # keyword-id embedding rows (node id mod buckets; the node count is
    # known only once the graph is attached, after the weights are built)
    in_category: bool = True  # retrieve within the query's category (sec. 4.1); False = the whole corpus
    # a visual query's category (sec. 4.1 predicts it): "classifier" = the majority category of the
    # ``visual_knn`` items nearest by image cosine, "data" = the query table's category (for comparison)
    visual_category: Literal["classifier", "data"] = "classifier"
    visual_knn: int = Field(1, ge=1)
    se_threshold: float = Field(0.85, ge=-1, le=1)  # SE edge cosine (paper: 0.85)
    # BOMGraph-SK / -SV (table 2): the search kinds whose clicks form CE / OE edges (None = all three, SKV); SE
    # (content) edges come from every search scenario either way. Train on the same kinds (data.scenario_kinds).
    subset: list[Literal["search_text", "search_visual", "search_similar"]] | None = None
    # query CE edges from keyword queries only (sec. 3.1: a visual query is no node); False = every logged query
    text_query_ce: bool = True

    @field_validator("subset")
    @classmethod
    def _subset(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and "search_similar" not in v:
            raise ValueError("a scenario subset always includes search_similar (the paper: 'we always "
                             "incorporate it in the joint training')")
        return v


@register_model("bomgraph", config=BOMGraphConfig, task="matching",
                paper="Fan et al., CIKM'23 (BOMGraph: metapath graph + disentangled items + contrastive search)",
                needs=("sparse", "scenario"),
                # batch 2048 impressions = ~130 positive pairs per scenario (paper: 256) and 20 epochs kept at the
                # best validation NDCG@100 (paper: 3 epochs of a far larger log): see docs/models/bomgraph.md
                defaults={"train": {"monitor": "scenarios.*.ndcg@100", "optimizer": "adagrad", "lr": 0.05,
                                    "epochs": 20, "matching": {"exclude": "none"}},
                          "data": {"batch_size": 2048, "scenario_kinds": ["search_text", "search_visual",
                                                                           "search_similar"]}})
class BOMGraph(nn.Module):
    """BOMGraph: metapath GATs per scenario + shared + inter-scenario, disentangled item vectors per scenario.

    Shapes:
        user_vectors(batch) -> [B, dim]; item_vectors(item_index [N], scenario [N]) -> [N, dim]
    """

    scenario_items = True  # one item vector and one index per search scenario

    def __init__(self, schema: FeatureSchema, cfg: BOMGraphConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.names = list(schema.scenarios)
        self.kinds = list(schema.scenario_kinds)
        n_items = schema.num_items
        title = schema.sequence("item.title_tokens")
        qtok = schema.sequence("query_tokens")
        vocab = max(f.vocab_size for f in (title, qtok) if f is not None) if (title or qtok) else 1
        self.terms = nn.Embedding(vocab, cfg.term_dim, padding_idx=0)
        self.item_id = nn.Embedding(n_items + 1, cfg.id_dim)
        img = next((v for v in schema.vectors if v.name == "item.image_emb"), None)
        self.img_dim = img.dim if img is not None else 0
        self.image = nn.Linear(self.img_dim, cfg.dim) if self.img_dim else None
        self.item_fc = nn.Linear(cfg.id_dim + cfg.term_dim + (cfg.dim if self.img_dim else 0), cfg.dim)
        self.query_id = nn.Embedding(cfg.query_buckets, cfg.id_dim)  # keyword ids, hashed (see the doc)
        self.query_fc = nn.Linear(cfg.id_dim + cfg.term_dim, cfg.dim)
        self.visual_fc = nn.Linear(cfg.dim, cfg.dim)
        self.search = [n for n, k in zip(self.names, self.kinds, strict=False) if k in INTRA]
        self.kind_of = dict(zip(self.names, self.kinds, strict=False))
        self.items_enc = MultiScenarioItemEncoder(cfg.dim, cfg.dim, self.search, cfg.cross_scenario, cfg.heads)
        self.queries_enc = ScenarioQueryEncoder(cfg.dim, cfg.dim, [n for n in self.search
                                                                  if self.kind_of[n] in QUERY_PATH], cfg.heads)
        self.dr = Disentangle(cfg.dim, cfg.dim, cfg.counterparts, cfg.activation) if cfg.disentangle else None
        self.register_buffer("item_image", torch.zeros(n_items + 1, max(self.img_dim, 1)))
        self.register_buffer("item_terms", torch.zeros(n_items + 1, title.max_len if title else 1, dtype=torch.long))
        self.register_buffer("query_terms", torch.zeros(1, 1, dtype=torch.long), persistent=False)
        self.register_buffer("query_node", torch.zeros(1, dtype=torch.long), persistent=False)
        self.sampler = None
        self.calls = 0
        self.retrieval_category = None  # [N + 1] set by attach_graph when model.in_category
        self.image_knn = None  # faiss index over the items' image vectors, set by attach_graph (visual classifier)
        self.knn_category = np.zeros(0, np.int64)

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg: BOMGraphConfig) -> BOMGraph:
        return cls(schema, cfg)

    def graph_config(self):  # noqa: ANN201
        """The graph this model samples from (the paper's SE threshold)."""
        from unisr.graph.build import GraphConfig

        subset = None if self.cfg.subset is None else tuple(
            n for n, k in zip(self.names, self.kinds, strict=False) if k in self.cfg.subset)
        return GraphConfig(se_threshold=self.cfg.se_threshold, behaviour_scenarios=subset,
                           ce_query_kinds=("text",) if self.cfg.text_query_ce else None)

    def training_stages(self) -> list[dict]:
        """One stage: eq. 15 (``train/bomgraph.py:BOMGraphObjective``), validated and early-stopped."""
        return [{"name": "train", "objective": "unisr.train.bomgraph:BOMGraphObjective", "sets": {},
                 "evaluate": True}]

    # ------------------------------------------------------------------ attached data
    def attach_items(self, encoder: FeatureEncoder) -> None:
        if self.img_dim and "item.image_emb" in encoder.item_vec:
            self.item_image.copy_(torch.as_tensor(encoder.item_vec["item.image_emb"]))
        seq = encoder.item_seq.get("item.title_tokens")
        if seq is not None:
            ids, mask = (np.asarray(x) for x in seq)
            self.item_terms.copy_(torch.as_tensor(np.where(mask, ids, 0)[:, :self.item_terms.shape[1]]))

    def attach_graph(self, graph, queries) -> None:  # noqa: ANN001 (HeteroGraph, data.side_tables.QueryTable)
        """The metapath sampler on ``graph`` and the query nodes' terms (graph query node -> QueryTable row)."""
        from unisr.graph.samplers.metapath import MetapathSampler

        self.sampler = MetapathSampler(graph, one_hop=self.cfg.one_hop, two_hop=self.cfg.two_hop)
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
        self.query_terms = torch.as_tensor(terms)
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
        if not self.img_dim or not len(cat) or cat.max(initial=-1) < 0:
            return None
        import faiss

        ok = np.flatnonzero(cat >= 0)
        ok = ok[ok > 0]  # entity 0 is the OOV row
        index = faiss.IndexFlatIP(self.img_dim)
        index.add(np.ascontiguousarray(F.normalize(self.item_image[torch.as_tensor(ok)], dim=-1).numpy(),
                                       np.float32))
        self.knn_category = cat[ok]
        return index

    def visual_query_category(self, emb: Tensor) -> Tensor:
        """[B] the majority category of the ``visual_knn`` items whose image vectors are nearest (cosine) to each
        visual query embedding [B, image dim] (ties: the smallest category id)."""
        if self.image_knn is None:
            raise RuntimeError("BOMGraph: no image index (attach_graph with item image vectors first)")
        k = min(self.cfg.visual_knn, self.image_knn.ntotal)
        _, rows = self.image_knn.search(np.ascontiguousarray(F.normalize(emb.float(), dim=-1).numpy()), k)
        votes = self.knn_category[rows]  # [B, k]
        n_cat = int(self.knn_category.max()) + 1
        counts = np.zeros((len(votes), n_cat), np.int64)
        np.add.at(counts, (np.repeat(np.arange(len(votes)), k), votes.ravel()), 1)
        return torch.as_tensor(counts.argmax(1))

    def _need_graph(self) -> None:
        if self.sampler is None:
            raise RuntimeError("BOMGraph has no graph attached: call attach_graph(graph, queries) first")

    # ------------------------------------------------------------------ node initialisation
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

    def embedders(self) -> dict:
        return {"item": self.item_init, "trigger": self.item_init, "query": self.query_init}

    # ------------------------------------------------------------------ sampling
    def _seed(self) -> int:
        if not self.training:
            return EVAL_SEED
        self.calls += 1
        return self.calls

    def _tree(self, path: str, starts: Tensor, pairs: Tensor | None, seed: int) -> MetapathTree:
        pos = {EXCLUDE[path]: pairs} if pairs is not None and path in EXCLUDE else None
        # eval: keyed by node, so an item's vector is the same in any batch (the corpus, a served request)
        return MetapathTree.from_blocks(self.sampler.sample_path(path, starts, pos, seed=seed,
                                                                 by_node=not self.training))

    # ------------------------------------------------------------------ towers
    def encode_items(self, item_index: Tensor, scenario: Tensor, pair_nodes: Tensor | None = None
                     ) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
        """Eq. 5 then eqs. 6-10 per row's scenario. ``pair_nodes`` [N]: the query / trigger node each row is a
        batch positive of (excluded from its item's sample; None at evaluation)."""
        self._need_graph()
        seed = self._seed()
        n, d = len(item_index), self.cfg.dim
        out = torch.zeros(n, d)
        for s in torch.unique(scenario).tolist():
            name = self.names[s]
            if name not in self.search:
                raise ValueError(f"BOMGraph embeds items of search scenarios only; scenario {name!r} is "
                                 f"{self.kind_of.get(name)!r}")
            rows = torch.nonzero(scenario == s).squeeze(1)
            items = item_index[rows]
            kind = self.kind_of[name]
            intra_path = INTRA[kind]
            pairs = (torch.stack([items, pair_nodes[rows]], 1) if pair_nodes is not None else None)
            intra = self._tree(intra_path, items, pairs, seed) if intra_path in self.sampler.paths else None
            inter = (self._tree(INTER[kind], items, None, seed)
                     if self.cfg.cross_scenario and INTER[kind] in self.sampler.paths else None)
            if intra is None:
                raise ValueError(f"metapath {intra_path} of {name!r} has no relation in the graph")
            out = out.index_put((rows,), self.items_enc(name, intra, inter, self.embedders()))
        if self.dr is None:
            return out, out, None, None
        i_bar, f, z = self.dr(out)
        return out, i_bar, f, z

    def item_vectors(self, item_index: Tensor, scenario: Tensor) -> Tensor:
        return F.normalize(self.encode_items(item_index, scenario)[1], dim=-1)

    def query_vectors(self, batch: Batch, positives: Tensor | None = None) -> Tensor:
        """Eq. 4 per row's scenario; ``positives`` [B]: each row's positive item (excluded from its sample)."""
        self._need_graph()
        seed = self._seed()
        out = torch.zeros(len(batch), self.cfg.dim)
        emb = self.embedders()
        nodes = self.query_group(batch)
        for s in torch.unique(batch.scenario_id).tolist():
            name = self.names[s]
            kind = self.kind_of.get(name)
            rows = torch.nonzero(batch.scenario_id == s).squeeze(1)
            if kind == "search_visual":
                v = batch.vectors.get("query.emb")
                if v is None or self.image is None:
                    raise ValueError("visual search needs query.emb and item.image_emb vectors in the schema")
                out = out.index_put((rows,), self.visual_fc(self.image(v[rows])))
                continue
            if kind not in QUERY_PATH:
                raise ValueError(f"BOMGraph answers search scenarios only; {name!r} is {kind!r}")
            starts = nodes[rows]
            pairs = torch.stack([starts, positives[rows]], 1) if positives is not None else None
            tree = self._tree(QUERY_PATH[kind], starts, pairs, seed)
            out = out.index_put((rows,), self.queries_enc(name, tree, emb))
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
