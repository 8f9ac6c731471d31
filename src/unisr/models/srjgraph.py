"""SRJGraph (Zhang et al., "Joint Learning of E-commerce Search and Recommendation with a Unified Graph Neural
Network", WSDM'22): intention- and upstream-aware aggregation over a user-item click graph whose edges carry
the search query. Equation numbers refer to the paper (``../shared/papers/001_585af8e7a5b2572f.txt``).

The neighbourhoods are sampled in the data pipeline (``unisr.graph.hooks.SRJGraphHook``, eqs. 5-6); this
module embeds them and aggregates them backward (eqs. 7-11) and predicts (eqs. 12-13).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from unisr.data.batch import Batch
from unisr.data.features import FeatureSchema
from unisr.graph.hooks import TargetAwareSpec
from unisr.graph.subgraph import TargetAwareSubgraph, require
from unisr.models.registry import MatchRankerConfig, register_model
from unisr.nn.embedding import embedding_rows, sparse_gradients
from unisr.nn.entity import NodeEmbedding, QueryEncoder, entity_encoders
from unisr.nn.match import QueryItemMatch, standalone_match
from unisr.nn.mlp import MLP
from unisr.nn.routing import ScenarioGroups

# paper table 2 (field names of the simulated marketplace; fields a dataset lacks are ignored, fields the
# paper lacks keep ``data.embed_dim``): user id 16, gender / age 4; item id 16, brand / seller / category /
# price 8; query term 16
PAPER_DIMS = {"user_id": 16, "user.gender": 4, "user.age_level": 4, "user.purchasing_power": 4,
              "item_id": 16, "item.brand": 8, "item.shop": 8, "item.category_path": 8, "item.price_level": 8,
              "query_tokens": 16}


class SRJGraphConfig(MatchRankerConfig):
    # dense embedding gradients by default, overriding the table-size rule (which gives sparse from 70,000 rows):
    # SRJGraph's step is its aggregation, and dense Adagrad is the faster mode on the small marketplace (229,501
    # rows: sparse / dense 0.90 and 0.91 in two runs, e.g. dense 4,137 vs sparse 3,719 samples/s,
    # benchmarks/results/sparse_graph_models.json); the recorded runs trained dense. ``model.sparse_grad=null`` applies the rule, ``true`` forces sparse
    sparse_grad: bool | None = False
    user_widths: list[int] = [25, 1, 10]  # paper sec. 5.3.1 (K = 3)
    item_widths: list[int] = [1, 25, 1]
    category_filter: bool = True  # paper: better than no filtering
    # sample only clicks made before the target event (the paper's background window is the history; the
    # graph here also holds the training window, so a training event would otherwise see its future)
    temporal: bool = True
    heads: int = 2
    ffn_dim: int = 128
    dropout: float = 0.0
    mlp: list[int] = [200, 80]  # per task (search / recommendation); not given in the paper
    query_on_edges: bool = True  # ablation "w/o query": the edge query is dropped from eq. 11
    intention: bool = True  # ablation "w/o intention": Q = e_n^(0) W (no e^I) in eq. 8
    upstream: bool = True  # ablation "w/o upstream": e_n^(0) = 0 || 0 || e_n in eq. 11
    # diagnostic "w/o aggregation" (not a paper row): e_u^(K) = e_p^(K) = 0 in eq. 12, so the MLPs see the centre
    # nodes, the query (and the opt-in match / dense inputs) only; separates the graph's share from the rest
    aggregate: bool = True
    # also the batch's dense fields (the history counters of inputs version 3, item age, dense columns) beside
    # eq. 12's input; not in the paper, whose inputs are node embeddings (the FieldStack models read them always)
    dense: bool = False
    # DropoutNet on the node ids (``nn/entity.py:NodeEmbedding``): each node occurrence's user_id / item_id set to
    # the OOV row with this probability in training; 0 = off, as in the paper (measured: docs/models/inputs.md)
    id_dropout: float = Field(0.0, ge=0.0, lt=1.0)


class TransformerUnit(nn.Module):
    """One aggregation layer (eq. 7): a transformer block whose single query attends over the central node
    followed by its time-ordered neighbours, with learned positional encodings (eqs. 8-10).

    The attention is ``nn.MultiheadAttention``'s (same parameters, same result) computed for one query: the
    query is taken through W_q and each head's W_k^T, so the keys are scored raw; the raw keys are pooled with
    the softmax weights and only the pooled vector goes through W_v. The key bias adds a constant per head
    (it cancels in the softmax) and the value bias is scaled by the weights' sum. This replaces two
    [1 + t, D] x [D, D] projections per node by [1 + t, D] x [D, H] products (``heads`` instead of D).

    Shapes:
        query: [N, D], center: [N, D], children: [N, t, D], child_mask: [N, t] bool (True = present) -> [N, D]
    """

    def __init__(self, dim: int, heads: int, ffn_dim: int, max_len: int, dropout: float) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"model width {dim} is not divisible by heads={heads}")
        self.heads, self.dropout = heads, dropout
        self.pos = nn.Parameter(torch.zeros(max_len, dim))
        nn.init.normal_(self.pos, std=0.02)
        self.attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)  # holds the weights
        self.norm1 = nn.LayerNorm(dim)
        self.ffn = nn.Sequential(nn.Linear(dim, ffn_dim), nn.ReLU(), nn.Linear(ffn_dim, dim))
        self.norm2 = nn.LayerNorm(dim)

    def attend(self, query: Tensor, center: Tensor, children: Tensor, child_mask: Tensor) -> Tensor:
        """Multi-head attention of one query over the keys ``[center; children] + positional encodings``
        (eq. 9), computed without materialising that [N, 1 + t, D] sequence: the centre and the positional
        terms are scored and pooled separately (q·(k + pos) = q·k + q·pos)."""
        n, t, d = children.shape
        h, dh = self.heads, d // self.heads
        w_q, w_k, w_v = self.attn.in_proj_weight.chunk(3)
        b_q, _, b_v = self.attn.in_proj_bias.chunk(3)
        pos = self.pos[: t + 1]
        q = F.linear(query, w_q, b_q).view(n, h, dh) * dh ** -0.5
        qk = torch.einsum("nhe,hed->nhd", q, w_k.view(h, dh, d))  # [N, H, D]
        scores = torch.cat([torch.einsum("nhd,nd->nh", qk, center).unsqueeze(-1),
                            torch.bmm(qk, children.transpose(1, 2))], -1) + qk @ pos.T  # [N, H, 1 + t]
        mask = torch.cat([torch.ones_like(child_mask[:, :1]), child_mask], 1)
        scores = scores.masked_fill(~mask.unsqueeze(1), float("-inf"))
        a = F.dropout(torch.softmax(scores, -1), self.dropout, self.training)
        pooled = a[..., :1] * center.unsqueeze(1) + torch.bmm(a[..., 1:], children) + a @ pos  # [N, H, D]
        v = torch.einsum("nhd,hed->nhe", pooled, w_v.view(h, dh, d)) + b_v.view(h, dh) * a.sum(-1, keepdim=True)
        return self.attn.out_proj(v.reshape(n, d))

    def forward(self, query: Tensor, center: Tensor, children: Tensor, child_mask: Tensor) -> Tensor:
        h = self.norm1(query + self.attend(query, center, children, child_mask))
        return self.norm2(h + self.ffn(h))


@register_model("srjgraph", config=SRJGraphConfig,
                paper="Zhang et al., Joint Learning of E-commerce Search and Recommendation with a Unified "
                      "Graph Neural Network, WSDM'22",
                needs=("sparse", "scenario", "query_tokens", "graph:srjgraph"),
                # paper sec. 5.3.1: Adagrad; mini-batches drawn from search or recommendation alternately
                # selection on the mean of the per-scenario validation AUCs, not on one AUC pooled over search
                # and recommendation events (docs/models/srjgraph.md, "Model selection of a joint model")
                defaults={"train": {"optimizer": "adagrad", "lr": 0.05, "monitor": "scenarios.*.auc"},
                          "data": {"policy": "alternating", "groups": [["kind:search"], ["kind:recommend"]],
                                   "embed_dims": PAPER_DIMS}})
class SRJGraph(nn.Module):
    """Joint search + recommendation CTR on the query-carrying user-item graph.

    Shapes:
        batch (with a ``TargetAwareSubgraph`` from ``SRJGraphHook``) -> {"click": [B] logits}
    """

    def __init__(self, user_emb: NodeEmbedding, item_emb: NodeEmbedding, query_emb: QueryEncoder,
                 is_search: Tensor, user_widths: list[int], item_widths: list[int], *, heads: int = 2,
                 ffn_dim: int = 128, dropout: float = 0.0, mlp: list[int] | None = None,
                 query_on_edges: bool = True, intention: bool = True, upstream: bool = True,
                 match: QueryItemMatch | None = None, num_dense: int = 0, aggregate: bool = True) -> None:
        super().__init__()
        self.match = match  # query-item match features beside eq. 12's input (``model.match``; not in the paper)
        self.user_emb, self.item_emb, self.query_emb = user_emb, item_emb, query_emb
        self.register_buffer("is_search", is_search, persistent=False)
        self.widths = {"user": list(user_widths), "item": list(item_widths)}
        self.flags = {"query": query_on_edges, "intention": intention, "upstream": upstream, "aggregate": aggregate}
        du, dp, dq = user_emb.out_dim, item_emb.out_dim, query_emb.dim
        self.d0 = du + dq + dp  # e_pre || e_q || e_n has this size for user and item nodes alike (eq. 11)
        depth = max(len(user_widths), len(item_widths))
        width = max(*user_widths, *item_widths)
        # W^I of eq. 8 split as [W_e; W_n] so that (e^I || e_n) W^I = e^I W_e + e_n W_n: e^I W_e is computed
        # once per sample instead of once per sampled node
        self.w_n = nn.ModuleList(nn.Linear(self.d0, self.d0) for _ in range(depth))
        self.w_e = nn.ModuleList(nn.Linear(self.d0, self.d0, bias=False) for _ in range(depth)) if intention else None
        self.units = nn.ModuleList(TransformerUnit(self.d0, heads, ffn_dim, width + 1, dropout)
                                   for _ in range(depth))
        self.num_dense = num_dense  # the batch's dense fields beside eq. 12's input (``model.dense``; not in the paper)
        ex = du + dq + dp + 2 * self.d0 + (match.out_dim if match is not None else 0) + num_dense  # eq. 12
        self.mlps = nn.ModuleList([MLP(ex, mlp or [200, 80], 1, dropout=dropout),  # MLP_r
                                   MLP(ex, mlp or [200, 80], 1, dropout=dropout)])  # MLP_s (eq. 13)

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg: SRJGraphConfig) -> SRJGraph:
        sparse = sparse_gradients(embedding_rows(schema), cfg.sparse_grad)
        is_search = torch.tensor([k.startswith("search") for k in schema.scenario_kinds], dtype=torch.long)
        return cls(*entity_encoders(schema, sparse, cfg.id_dropout), is_search, cfg.user_widths, cfg.item_widths, heads=cfg.heads, ffn_dim=cfg.ffn_dim,
                   dropout=cfg.dropout, mlp=cfg.mlp, query_on_edges=cfg.query_on_edges, intention=cfg.intention,
                   upstream=cfg.upstream, match=standalone_match(schema, sparse, cfg.match_spec()) if cfg.match else None,
                   num_dense=len(schema.dense) if cfg.dense else 0, aggregate=cfg.aggregate)

    @classmethod
    def sampler_spec(cls, cfg: SRJGraphConfig) -> TargetAwareSpec:
        """The ``graph:srjgraph`` sampler this model needs (eqs. 5-6), from its validated config."""
        return TargetAwareSpec(cfg.user_widths, cfg.item_widths, cfg.category_filter, cfg.temporal)

    # ------------------------------------------------------------------ pieces
    def _entity(self, kind: str, idx: Tensor) -> Tensor:
        return (self.user_emb if kind == "user" else self.item_emb)(idx)

    def _upstream(self, pre: Tensor, q: Tensor, node: Tensor, node_kind: str) -> Tensor:
        """e_n^(0) = e_pre(n) || e_q(n,pre(n)) || e_n (eq. 11), laid out as [user part | query | item part] so that
        user and item nodes share one width; ablations zero the dropped parts."""
        if not self.flags["upstream"]:
            pre = torch.zeros_like(pre)
            q = torch.zeros_like(q)
        elif not self.flags["query"]:
            q = torch.zeros_like(q)
        user_part, item_part = (node, pre) if node_kind == "user" else (pre, node)
        return torch.cat([user_part, q, item_part], -1)

    def _side(self, sub: TargetAwareSubgraph, side: str, seed_kind: str, e_u: Tensor, e_q: Tensor, e_p: Tensor,
              e_i: Tensor) -> Tensor:
        """Backward aggregation of one side's sampled tree (eq. 7), computed for the reachable nodes only.

        A node whose mask is False, or whose parent is not reachable, never reaches the seed: the parent's
        attention gives it weight exactly 0 (eq. 9 with the mask), so its embedding and its transformer unit
        change neither the output nor any gradient. Only the reachable nodes are embedded and aggregated
        (flat positions in ``[B * W_h]``, gathered with one index per hop); on the simulated marketplace
        ~5 of the 78 units of a sample are reachable (docs/BENCHMARKS.md, "SRJGraph: speed and cost").
        ``tests/models/test_srjgraph.py`` checks outputs and gradients against the dense padded computation.

        Shapes:
            e_u: [B, du], e_q: [B, dq], e_p: [B, dp], e_i: [B, D0] -> [B, D0]
        """
        widths = self.widths[side]
        b = e_u.shape[0]
        kinds, k = [], seed_kind
        for _ in widths:
            k = "item" if k == "user" else "user"
            kinds.append(k)
        # reachable nodes of each hop (flat positions into [B * W_h]) and their e^(0) (eq. 11)
        nodes = sub.reachable(side)
        e0 = []
        for h, (kind, hop, (_, idx, _)) in enumerate(zip(kinds, sub.hops(side), nodes, strict=True)):
            pre_kind = seed_kind if h == 0 else kinds[h - 1]
            pre, q, node = (t.flatten(0, 1)[idx] for t in (hop.pre_feat, hop.qtok, hop.feat))
            e0.append(self._upstream(self._entity(pre_kind, pre), self.query_emb.terms(q), self._entity(kind, node), kind))
        # the seed's upstream is the sample itself: its counterpart and the target query
        seed_e0 = self._upstream(e_p if seed_kind == "user" else e_u, e_q,
                                 e_u if seed_kind == "user" else e_p, seed_kind)
        reps = e0[-1]  # deepest hop: e^(0) (no neighbours below)
        for level, h in enumerate(range(len(widths) - 1, -1, -1)):  # backward: hop K-1 ... 0 (eq. 7)
            f = widths[h]
            if h == 0:
                center, cpos = seed_e0, torch.arange(b, device=e_u.device)
            else:
                center, cpos = e0[h - 1], nodes[h - 1][1]
            # each child's flat position -> its row in ``reps``; absent children -> a zero row, masked
            reach, _, rank = nodes[h]
            pos = cpos.unsqueeze(1) * f + torch.arange(f, device=e_u.device)  # [N_h, f]
            present = reach[pos]
            children = torch.cat([reps, reps.new_zeros(1, self.d0)])[torch.where(present, rank[pos], len(reps))]
            query = self.w_n[level](center)  # eq. 8: (e^I || e_n^(0)) W^I
            if self.w_e is not None:  # the sample of a hop-h node: its flat position // nodes per sample
                query = query + self.w_e[level](e_i[cpos // math.prod(widths[:h])])
            reps = self.units[level](query, center, children, present)
        return reps

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        sub = require(batch.subgraph, TargetAwareSubgraph, "SRJGraph", "graph:srjgraph")
        sub.check_widths("SRJGraph", self.widths["user"], self.widths["item"])
        e_u = self.user_emb(sub.user_seed_feat)
        e_p = self.item_emb(sub.item_seed_feat)
        e_q = self.query_emb(batch)  # eq. 3 (+ trigger / visual content, nn.entity.QueryEncoder)
        e_i = torch.cat([e_u, e_q, e_p], -1)  # intention representation e^I
        if self.flags["aggregate"]:
            e_uk = self._side(sub, "user", "user", e_u, e_q, e_p, e_i)
            e_pk = self._side(sub, "item", "item", e_u, e_q, e_p, e_i)
        else:  # the "w/o aggregation" diagnostic (``aggregate``)
            e_uk = e_pk = e_i.new_zeros(len(e_i), self.d0)
        e_x = torch.cat([e_u, e_q, e_p, e_uk, e_pk], -1)  # eq. 12
        if self.match is not None:
            e_x = torch.cat([e_x, self.match(batch)], -1)
        if self.num_dense:
            e_x = torch.cat([e_x, batch.dense], -1)
        task = self.is_search[batch.scenario_id]
        logit = ScenarioGroups(task).apply(e_x, lambda t, x: self.mlps[t](x)).squeeze(1)  # eq. 13
        return {"click": logit}
