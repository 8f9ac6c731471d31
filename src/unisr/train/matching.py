"""The two-tower training objective beside ``Objective`` (the loss lives outside the model, as for rankers).

Only clicked events are positives. A batch's clicked rows give B (user, item) pairs; each user is scored against
every clicked item of the batch (in-batch negatives) and, with ``num_negatives`` M > 0, against M items drawn
uniformly from the corpus (shared by the batch's rows, each embedded in the row's scenario). Scores are inner
products of ``model.user_vectors(batch)`` and ``model.item_vectors(item_index, scenario)`` over the temperature.
In-batch columns holding the row's own item (a duplicate positive) are masked, except the diagonal.

Losses (``train.matching.loss``):
    softmax (list-wise): cross-entropy of the positive among the candidates. With ``logq`` the sampling-bias
        correction of Yi et al. (RecSys'19) subtracts log Q(j), the expected number of times item j is among a
        batch's candidates: B * p_j for an in-batch item (p_j = the item's share of the training clicks, estimated
        from the training split's item frequencies) and M / N for a uniform negative.
    bce (point-wise): BCE with label 1 for the positive and 0 for each negative (no correction).
    bpr (pair-wise): -log sigmoid(s_pos - s_neg) averaged over the negatives (no correction).

Shapes:
    forward(batch) -> (loss [], {"loss_match": float, "positives": float})
    logits(u [B, d], v_pos [B, d], items [B], v_neg [B, M, d] | None) -> ([B, 1 + B + M] corrected, [B, 1 + B + M] mask)
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unisr.data.batch import Batch
from unisr.pipeline.config import ConfigError, MatchingConfig

NEG_INF = -1e9


class MatchingObjective(nn.Module):
    """In-batch (+ uniform) sampled losses for a model with ``user_vectors`` / ``item_vectors``.

    ``item_freq``: [N + 1] training clicks per item entity (row 0 = OOV), for the logQ correction.

    Shapes:
        forward(batch) -> (loss [], parts)
    """

    def __init__(self, model: nn.Module, cfg: MatchingConfig, item_freq: np.ndarray, seed: int = 0) -> None:
        super().__init__()
        for fn in ("user_vectors", "item_vectors"):
            if not callable(getattr(model, fn, None)):
                raise TypeError(f"{type(model).__name__} has no {fn}(): not a matching model")
        self.model = model
        self.cfg = cfg
        freq = torch.as_tensor(np.asarray(item_freq, np.float64))
        prob = freq / max(float(freq.sum()), 1.0)
        # an item never clicked in training (p = 0) can still be a batch positive: floored, not -inf
        self.register_buffer("log_p", torch.log(prob.clamp_min(1e-12)).float(), persistent=False)
        self.n_items = len(freq) - 1
        self.gen = torch.Generator().manual_seed(seed)

    def logits(self, u: Tensor, v_pos: Tensor, items: Tensor, v_neg: Tensor | None,
               neg_items: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Candidate scores per row: column 0 the positive, then the B in-batch items, then the M negatives
        (``neg_items`` [M] their ids); the mask is False for a row's own item among the in-batch columns
        (duplicate positives; the diagonal is column 0 already) and among the sampled negatives (accidental
        hits). Softmax with ``logq`` gets the correction."""
        t = self.cfg.temperature
        b = u.shape[0]
        pos = (u * v_pos).sum(1, keepdim=True) / t
        inb = u @ v_pos.T / t
        mask_inb = items[None, :] != items[:, None]
        cols = [pos, inb]
        masks = [torch.ones(b, 1, dtype=torch.bool), mask_inb]
        if v_neg is not None:
            neg = torch.einsum("bd,bmd->bm", u, v_neg) / t
            cols.append(neg)
            masks.append(torch.ones_like(neg, dtype=torch.bool) if neg_items is None
                         else neg_items[None, :] != items[:, None])
        s = torch.cat(cols, 1)
        mask = torch.cat(masks, 1)
        if self.cfg.loss == "softmax" and self.cfg.logq:
            log_q_inb = math.log(b) + self.log_p[items]  # log(B * p_j)
            corr = [log_q_inb[:, None], log_q_inb[None, :].expand(b, b)]
            if v_neg is not None:
                corr.append(torch.full_like(cols[2], math.log(v_neg.shape[1] / max(self.n_items, 1))))
            s = s - torch.cat(corr, 1)
        return s, mask

    def _negatives(self, scen: Tensor) -> tuple[Tensor | None, Tensor | None]:
        """M items drawn uniformly from 1..N (ids [M]) and their vectors in each row's scenario [B, M, d]."""
        m = self.cfg.num_negatives
        if m == 0:
            return None, None
        neg = torch.randint(1, self.n_items + 1, (m,), generator=self.gen)
        present = torch.unique(scen)
        vecs = self.model.item_vectors(neg.repeat(len(present)), present.repeat_interleave(m))
        vecs = vecs.view(len(present), m, -1)
        return neg, vecs[torch.searchsorted(present, scen)]

    def forward(self, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        m = batch.label("click") > 0.5
        sel = batch.select(torch.nonzero(m).squeeze(1))
        u = self.model.user_vectors(sel)
        items, scen = sel.item_index, sel.scenario_id
        v = self.model.item_vectors(items, scen)
        if len(sel) == 0:
            return u.sum() * 0.0 + v.sum() * 0.0, {"loss_match": 0.0, "positives": 0.0}
        neg_items, v_neg = self._negatives(scen)
        s, mask = self.logits(u, v, items, v_neg, neg_items)
        loss = self.loss(s, mask)
        return loss, {"loss_match": float(loss.detach()), "positives": float(len(sel))}

    def loss(self, s: Tensor, mask: Tensor) -> Tensor:
        """``s`` [B, 1 + C] with the positive in column 0; ``mask`` False = not a negative of that row."""
        neg_mask = mask.clone()
        neg_mask[:, 0] = False
        eye = torch.zeros_like(neg_mask)
        eye[:, 1:1 + s.shape[0]] = torch.eye(s.shape[0], dtype=torch.bool)
        neg_mask &= ~eye  # the in-batch diagonal is the positive itself
        if self.cfg.loss == "softmax":
            z = s.masked_fill(~(neg_mask | _col0(s)), NEG_INF)
            return F.cross_entropy(z, torch.zeros(s.shape[0], dtype=torch.long))
        n = neg_mask.sum().clamp_min(1)
        if self.cfg.loss == "bce":
            pos = F.binary_cross_entropy_with_logits(s[:, 0], torch.ones_like(s[:, 0]))
            neg = F.binary_cross_entropy_with_logits(s, torch.zeros_like(s), reduction="none")
            return pos + (neg * neg_mask).sum() / n
        diff = F.logsigmoid(s[:, :1] - s)  # bpr
        return -(diff * neg_mask).sum() / n

    def component_state_dict(self) -> dict[str, Tensor]:
        return {}  # no training-only weights

    def load_component_state_dict(self, state: dict[str, Tensor]) -> None:
        if state:
            raise KeyError(f"checkpoint has training-only components a matching objective lacks: {sorted(state)}")


def _col0(s: Tensor) -> Tensor:
    m = torch.zeros_like(s, dtype=torch.bool)
    m[:, 0] = True
    return m


# ------------------------------------------------------------------------------------ the matching run
MONITOR_METRICS = ("hr@", "recall@", "ndcg@", "mrr@")


def check_monitor(monitor: str, ks: list[int]) -> None:
    """``train.monitor`` of a matching run must name a retrieval metric at one of ``train.matching.ks``."""
    for part in monitor.split("+"):
        name = part.strip().rsplit(".", 1)[-1]
        ok = any(name.startswith(p) and name[len(p):].isdigit() and int(name[len(p):]) in ks
                 for p in MONITOR_METRICS)
        if not ok:
            raise ConfigError(f"config key train.monitor: {monitor!r} is not a retrieval metric of a matching "
                              f"model (e.g. 'scenarios.*.ndcg@20' or 'recall@50'; K in train.matching.ks={ks})")


def train_matching(cfg, spec, gate, encoder, pipe, net: nn.Module, out, *, resume: bool = False) -> dict:  # noqa: ANN001
    """The matching half of ``train_run`` (a model registered with task "matching"): two-tower training with
    ``MatchingObjective``, early stopping on a validation retrieval metric (exact search), then the test split's
    retrieval metrics (exact and the ANN index side by side, plus the popularity baseline) and ``RUN/item_index/``.
    Returns the run's ``metrics.json`` content (``train_run`` wraps it in its ``TrainedRun``)."""
    import json

    from unisr.evaluate.retrieval import Interactions, evaluate_retrieval, popularity_corpus
    from unisr.index.faiss_index import ItemIndex, effective_params, save_indexes
    from unisr.models.registry import get_model_info
    from unisr.train.trainer import fit_run, run_summary, seed_everything

    mcfg = cfg.train.matching
    check_monitor(cfg.train.monitor, mcfg.ks)
    if hasattr(net, "attach_items"):
        net.attach_items(encoder)
    schema = encoder.schema
    n_items, n_scen, names = schema.num_items, schema.num_scenarios, schema.scenarios
    with torch.no_grad():  # the index parameters fit the vectors? (fail before training, naming the key)
        net.eval()
        dim = int(net.item_vectors(torch.ones(1, dtype=torch.long), torch.zeros(1, dtype=torch.long)).shape[1])
        net.train()
    effective_params(mcfg.index, n_items, dim)
    train_x = Interactions.from_batches(pipe.batches("train"))
    valid_x = Interactions.from_batches(pipe.batches("valid"))
    if len(train_x) == 0:
        raise ConfigError(f"dataset {spec.name!r}: no clicked events in the training split, nothing to match")
    freq = np.bincount(train_x.item, minlength=n_items + 1)
    seed_everything(cfg.train.seed)
    objective = MatchingObjective(net, mcfg, freq, seed=cfg.train.seed)
    def retrieval(split: str, excluded: Interactions, ann=None, indexes=None) -> tuple:  # noqa: ANN001
        return retrieval_split(net, pipe, mcfg, split, excluded, ann=ann, indexes=indexes)

    trainer, early, wall = fit_run(objective, net, cfg.train, out, pipe.epochs("train"),
                                   lambda: retrieval("valid", train_x)[0], resume=resume)

    excluded = train_x + valid_x  # the test split ranks without the user's train and valid clicks
    ann = mcfg.index
    res, corpus, queries, indexes = retrieval("test", excluded, ann=ann, indexes="build")
    item_ids = np.asarray(encoder.item_ids, np.int64)  # entity r + 1 = item_ids[r] = index row r
    save_indexes(out / "item_index", [ItemIndex(names[s], indexes[s], item_ids,
                                                effective_params(ann, n_items, corpus.shape[2]))
                                      for s in range(n_scen)], ann)
    pop_q = dataclasses.replace(queries, vectors=np.ones((len(queries.user), 1), np.float32))
    pop = evaluate_retrieval(pop_q, popularity_corpus(train_x, n_items, n_scen), excluded, names, mcfg)
    head, tail = run_summary(cfg, spec.name, get_model_info(cfg.model_name).task, trainer, early, wall)
    metrics = {
        **head,
        **res,  # overall / scenarios: exact full-sort retrieval; "ann": the same through the saved index
        "baselines": {"popularity": pop},  # the training split's most-clicked items per scenario, same protocol
        **tail,
        "matching": {"loss": mcfg.loss, "logq": mcfg.logq, "num_negatives": mcfg.num_negatives,
                     "exclude": mcfg.exclude, "index": ann.kind},
        "rows": gate.metrics(),
        "rejected": gate.reason_counts(),
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1, default=float))
    return metrics


def retrieval_split(net: nn.Module, pipe, mcfg: MatchingConfig, split: str, excluded, *, ann=None,  # noqa: ANN001
                    indexes=None) -> tuple:  # noqa: ANN001
    """Retrieval metrics of ``split`` (``evaluate.retrieval.evaluate_retrieval``) with the model in eval mode:
    ``indexes`` = a list of per-scenario ANN indexes, ``"build"`` (built here from the corpus) or None (exact
    only). Returns (metrics, corpus [S, N, d], queries, indexes)."""
    from unisr.evaluate.retrieval import build_indexes, collect_queries, embed_corpus, evaluate_retrieval

    schema = pipe.encoder.schema
    n_items, n_scen = schema.num_items, schema.num_scenarios
    was = net.training
    net.eval()
    try:
        corpus = embed_corpus(net, n_items, n_scen)
        q = collect_queries(net.user_vectors, pipe.batches(split), n_scen, excluded, n_items, mcfg.exclude)
        if isinstance(indexes, str):
            indexes = build_indexes(corpus, ann)
        res = evaluate_retrieval(q, corpus, excluded, schema.scenarios, mcfg, ann=ann, indexes=indexes)
        return res, corpus, q, indexes
    finally:
        net.train(was)


SPLITS_BEFORE = {"valid": ("train",), "test": ("train", "valid")}  # the clicks a split's ranking excludes


def evaluate_matching_run(run, cfg, net: nn.Module, pipe, split: str) -> dict:  # noqa: ANN001
    """``unisr evaluate --run RUN`` of a matching run: ``split``'s retrieval metrics, exact and through the
    saved ``RUN/item_index/`` side by side (the earlier splits' clicks excluded, as in training)."""
    from pathlib import Path

    from unisr.evaluate.retrieval import Interactions
    from unisr.index.faiss_index import load_indexes

    excluded = Interactions.empty()
    for before in SPLITS_BEFORE.get(split, ()):
        excluded = excluded + Interactions.from_batches(pipe.batches(before))
    index_dir = Path(run) / "item_index"
    indexes, ann = None, None
    if (index_dir / "manifest.json").is_file():
        saved = load_indexes(index_dir)
        names = pipe.encoder.schema.scenarios
        if all(n in saved for n in names):
            indexes = [saved[n].index for n in names]
            ann = cfg.train.matching.index
    res, *_ = retrieval_split(net, pipe, cfg.train.matching, split, excluded, ann=ann, indexes=indexes)
    return res
