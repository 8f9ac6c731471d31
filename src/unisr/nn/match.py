"""Query-item match features computed from the shared content tables: kernel-pooled term matching (K-NRM,
Xiong et al., SIGIR'17) of the query's terms against the item's title terms, level-by-level category
agreement, the same between a similar-product search's trigger item and the candidate, and the cosine of the
projected vectors of one space (a visual query or the trigger's image against the candidate's image).

Cosines are of the shared embeddings, so an id that the query and the item both carry has cosine exactly 1
from the first step (the exact-match kernel fires), and the tables learn which *different* ids match
(synonyms). A pair the sample lacks (no query, no trigger) gives zeros.

Shapes:
    QueryItemMatch(batch) -> [B, out_dim]
    by_position(per_term [B, Lq, K], P) -> [B, P * K]
    kernel_pool(sim [B, Lq, Lt], q_mask [B, Lq], t_mask [B, Lt]) -> [B, K]
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unisr.data.batch import Batch
from unisr.data.features import FeatureSchema
from unisr.nn.content import SequenceTables, VectorProjections

# K-NRM's kernels: an exact-match kernel (mu 1, sigma 1e-3) and soft-match kernels spread over the cosine range
KERNEL_MU = (1.0, 0.9, 0.7, 0.5, 0.3, 0.1, -0.1, -0.3, -0.5)
KERNEL_SIGMA = (1e-3,) + (0.1,) * (len(KERNEL_MU) - 1)
# (query side, item side) pairs of sequences: term matching (kernel pooling) and level-wise agreement
TERM_PAIRS = (("query_tokens", "item.title_tokens"), ("trigger.title_tokens", "item.title_tokens"))
LEVEL_PAIRS = (("query.category", "item.category_path"), ("trigger.category_path", "item.category_path"))
VECTOR_PAIRS = (("query.emb", "item.image_emb"),)  # plus every ("trigger.<x>", "item.<x>") of the schema


@dataclass(frozen=True)
class MatchSpec:
    """Which optional parts of ``QueryItemMatch`` a model takes (``QueryItemMatch``'s keywords); the default is
    the plain form (pooled kernels, category levels, projected cosines)."""

    positions: int = 0
    raw_cosine: bool = False


def match_spec(match: bool | MatchSpec) -> MatchSpec | None:
    """A model config's ``match`` as a spec: False -> None (no match features), True -> the plain form."""
    if isinstance(match, MatchSpec):
        return match
    return MatchSpec() if match else None


def term_kernels(sim: Tensor, q_mask: Tensor, t_mask: Tensor, mu: Tensor, sigma: Tensor) -> Tensor:
    """Per query term and kernel k: log(1 + sum over the item's terms of exp(-(s - mu_k)^2 / (2 sigma_k^2)))
    (K-NRM's soft-TF; log1p instead of its log keeps an empty sum at 0); padded terms give 0.

    Shapes:
        sim [B, Lq, Lt], q_mask [B, Lq], t_mask [B, Lt] -> [B, Lq, K]"""
    k = torch.exp(-((sim.unsqueeze(-1) - mu) ** 2) / (2 * sigma**2))  # [B, Lq, Lt, K]
    k = (k * t_mask[:, None, :, None]).sum(2)  # [B, Lq, K]
    return torch.log1p(k) * q_mask.unsqueeze(-1)


def kernel_pool(sim: Tensor, q_mask: Tensor, t_mask: Tensor, mu: Tensor, sigma: Tensor) -> Tensor:
    """K-NRM kernel pooling: for each kernel, the mean over the query's terms of ``term_kernels``.

    Shapes:
        sim [B, Lq, Lt], q_mask [B, Lq], t_mask [B, Lt] -> [B, K]"""
    per_term = term_kernels(sim, q_mask, t_mask, mu, sigma)
    return per_term.sum(1) / q_mask.sum(1, keepdim=True).clamp(min=1)


def gated_pool(per_term: Tensor, gate_logit: Tensor, q_mask: Tensor) -> Tensor:
    """DRMM's term gating (Guo et al., CIKM'16): the query terms' kernel features weighted by a softmax over the
    query's terms of a learned score of each term's embedding, so that the terms that decide relevance (a
    product word rather than a colour) weigh more; a query without terms gives 0.

    Shapes:
        per_term [B, Lq, K], gate_logit [B, Lq], q_mask [B, Lq] -> [B, K]"""
    w = torch.softmax(gate_logit.masked_fill(~q_mask, float("-inf")), 1).nan_to_num(0.0)  # all-padding rows -> 0
    return (per_term * w.unsqueeze(-1)).sum(1)


def by_position(per_term: Tensor, positions: int) -> Tensor:
    """The first ``positions`` query terms' kernel features side by side, in query order; a query with fewer terms
    is padded with zeros (its padded terms are already 0 in ``per_term``).

    Shapes:
        per_term [B, Lq, K] -> [B, positions * K]"""
    b, lq, k = per_term.shape
    head = per_term[:, :positions]
    if lq < positions:
        head = torch.cat([head, per_term.new_zeros((b, positions - lq, k))], 1)
    return head.reshape(b, positions * k)


def _cos(a: Tensor, b: Tensor) -> Tensor:
    return F.normalize(a, dim=-1, eps=1e-12) @ F.normalize(b, dim=-1, eps=1e-12).transpose(-1, -2)


class QueryItemMatch(nn.Module):
    """Match features between what a sample searches with (query terms and category, trigger item, visual
    query) and the candidate item, read from ``tables`` / ``vectors`` (the model's own shared input layer), for
    the pairs the schema has.

    Features: per term pair, the K-NRM kernels (``len(KERNEL_MU)``, the mean over the query's terms) and the
    same pooled with DRMM's term gate (a linear score of each query term's embedding, ``gate``); per level pair, the cosine of the
    query-side id with each level of the item's path (``max_len`` of the path); per vector pair, one cosine.

    Shapes:
        batch -> [B, out_dim]
    """

    def __init__(self, schema: FeatureSchema, tables: SequenceTables, vectors: VectorProjections,
                 positions: int = 0, raw_cosine: bool = False) -> None:
        """``positions``: also keep the kernel features of each of the query side's first ``positions`` terms
        apart (in query order, zeros past its end), so the layers above can weigh a term by its place in the query
        (a product word first, attribute words after it) instead of only the mean and the gated pool; 0 = off.
        ``raw_cosine``: per vector pair, also the cosine of the two raw vectors (they share one space, so it needs
        no learning), beside the cosine of their learned projections."""
        super().__init__()
        self.positions, self.raw_cosine = positions, raw_cosine
        self.tables, self.vectors = [tables], [vectors]  # held by the input layer (not registered twice)
        seqs = {f.name: f for f in schema.sequences}
        shared = [(a, b) for a, b in TERM_PAIRS + LEVEL_PAIRS
                  if a in seqs and b in seqs and seqs[a].table_key == seqs[b].table_key and a in tables.key]
        self.term_pairs = [p for p in shared if p in TERM_PAIRS]
        self.level_pairs = [p for p in shared if p in LEVEL_PAIRS]
        self.level_len = {b: seqs[b].max_len for _, b in self.level_pairs}
        vec = {v.name: v for v in schema.vectors}
        pairs = list(VECTOR_PAIRS) + [(n, "item." + n[8:]) for n in vec if n.startswith("trigger.")]
        self.vector_pairs = [(a, b) for a, b in pairs if a in vec and b in vec and vec[a].space == vec[b].space
                             and a in vectors.names and b in vectors.names]
        self.register_buffer("mu", torch.tensor(KERNEL_MU), persistent=False)
        self.register_buffer("sigma", torch.tensor(KERNEL_SIGMA), persistent=False)
        self.key = {a: seqs[a].table_key.replace(".", "_") or a.replace(".", "_") for a, _ in self.term_pairs}
        dims = {self.key[a]: tables.dim(a) for a, _ in self.term_pairs}
        self.gate = nn.ModuleDict({k: nn.Linear(d, 1) for k, d in dims.items()})  # DRMM term gate per table
        self.out_dim = ((2 + positions) * len(self.term_pairs) * len(KERNEL_MU)
                        + sum(seqs[b].max_len for _, b in self.level_pairs) + (1 + raw_cosine) * len(self.vector_pairs))

    def forward(self, batch: Batch) -> Tensor:
        tables, b = self.tables[0], len(batch)
        out: list[Tensor] = []
        for qa, it in self.term_pairs:
            if qa not in batch.sequences or it not in batch.sequences:
                out.append(batch.dense.new_zeros((b, (2 + self.positions) * len(KERNEL_MU))))
                continue
            (q, qm), (t, tm) = batch.sequences[qa], batch.sequences[it]
            qe = tables.tokens(qa, q)
            per_term = term_kernels(_cos(qe, tables.tokens(it, t)), qm.float(), tm.float(), self.mu, self.sigma)
            mean = per_term.sum(1) / qm.float().sum(1, keepdim=True).clamp(min=1)
            out += [mean, gated_pool(per_term, self.gate[self.key[qa]](qe).squeeze(-1), qm.bool())]
            if self.positions:
                out.append(by_position(per_term, self.positions))
        for qa, it in self.level_pairs:
            if qa not in batch.sequences or it not in batch.sequences:
                out.append(batch.dense.new_zeros((b, self.level_len[it])))
                continue
            (q, qm), (t, tm) = batch.sequences[qa], batch.sequences[it]
            qv = (tables.tokens(qa, q) * qm.unsqueeze(-1)).sum(1, keepdim=True)  # [B, 1, d] (one id)
            sim = _cos(qv, tables.tokens(it, t)).squeeze(1)  # [B, L]
            out.append(sim * tm * qm.any(1, keepdim=True))
        for qa, it in self.vector_pairs:
            va, vb = batch.vectors.get(qa), batch.vectors.get(it)
            if va is None or vb is None:
                out.append(batch.dense.new_zeros((b, 1 + self.raw_cosine)))
                continue
            pa, pb = self.vectors[0].project(qa, va), self.vectors[0].project(it, vb)
            present = (va.abs().sum(1, keepdim=True) > 0).float()
            out.append(F.cosine_similarity(pa, pb, dim=1, eps=1e-12).unsqueeze(1) * present)
            if self.raw_cosine:
                out.append(F.cosine_similarity(va, vb, dim=1, eps=1e-12).unsqueeze(1) * present)
        return torch.cat(out, 1) if out else batch.dense.new_zeros((b, 0))


def standalone_match(schema: FeatureSchema, sparse: bool, spec: MatchSpec | None = None) -> QueryItemMatch | None:
    """A ``QueryItemMatch`` with content tables of its own (registered on it), for models whose input layer has
    no ``SequenceTables`` (the graph models' node embeddings); None when the schema gives it no pair."""
    tables = SequenceTables(schema.sequences, sparse=sparse)
    vectors = VectorProjections(schema.vectors)
    spec = spec or MatchSpec()
    m = QueryItemMatch(schema, tables, vectors, positions=spec.positions, raw_cosine=spec.raw_cosine)
    if not m.out_dim:
        return None
    m.own_tables, m.own_vectors = tables, vectors  # registered as submodules of the match module
    return m
