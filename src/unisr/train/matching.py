"""The two-tower training objective beside ``Objective`` (the loss lives outside the model, as for rankers).

Only clicked events are positives. A batch's clicked rows give B (user, item) pairs. Negatives
(``train.matching.negatives``):
    shared (default): each user is scored against every clicked item of the batch (in-batch negatives) and, with
        ``num_negatives`` M > 0, against M items drawn uniformly from the corpus (shared by the batch's rows, each
        embedded in the row's scenario). In-batch columns holding the row's own item (a duplicate positive) are
        masked, except the diagonal.
    per_row: M = ``num_negatives`` items drawn uniformly per positive row, and no in-batch columns (RecBole's
        pairwise sampler, ``train_neg_sample_args`` uniform / sample_num 1): a draw that is an item the user clicked
        in the training split (``attach_interactions``; before it is called, the row's own item) is drawn again.
    dns: per row, the M highest-scored (by the current model, no gradient) of ``dns_candidates`` such uniform draws
        (dynamic negative sampling, Zhang et al., SIGIR'13: hard negatives refreshed at every step).
Scores are inner products of ``model.user_vectors(batch)`` and ``model.item_vectors(item_index, scenario)`` over
the temperature.

Losses (``train.matching.loss``):
    softmax (list-wise): cross-entropy of the positive among the candidates. With ``logq`` the sampling-bias
        correction of Yi et al. (RecSys'19) subtracts log Q(j), the expected number of times item j is among a
        batch's candidates: B * p_j for an in-batch item (p_j = the item's share of the training clicks, estimated
        from the training split's item frequencies) and M / N for a uniform negative (per row, every candidate of
        a row has the same uniform Q: the correction is a constant and is left out).
    bce (point-wise): BCE with label 1 for the positive and 0 for each negative (no correction).
    bpr (pair-wise): -log sigmoid(s_pos - s_neg) averaged over the negatives (no correction).
``reg_weight`` > 0 adds RecBole's ``EmbLoss`` (require_pow): reg_weight * sum of squared entries / (2 B) of the
model's ``reg_vectors(batch, items, negatives)`` (LightGCN: its layer-0 embeddings) or else of the scored vectors.

Shapes:
    forward(batch) -> (loss [], {"loss_match": float, "positives": float})
    logits(u [B, d], v_pos [B, d], items [B], v_neg [B, M, d] | None) -> ([B, 1 + B + M] corrected, [B, 1 + B + M] mask)
    row_logits(u [B, d], v_pos [B, d], v_neg [B, M, d]) -> ([B, 1 + M], [B, 1 + M] mask)
    row_negatives(user [B], items [B], u [B, d], scen [B]) -> [B, M] item entity indices
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
MAX_REDRAWS = 1000  # per_row / dns: rounds of redrawing the negatives that are a training click of the user (only
# those are redrawn; a user who clicked (almost) every item keeps a positive after this many)


class MatchingObjective(nn.Module):
    """In-batch (+ uniform), per-row uniform or dynamic hard (DNS) sampled losses for a model with
    ``user_vectors`` / ``item_vectors``.

    ``item_freq``: [N + 1] training clicks per item entity (row 0 = OOV), for the logQ correction.

    Shapes:
        forward(batch) -> (loss [], parts)
    """

    def __init__(self, model: nn.Module, cfg: MatchingConfig, item_freq: np.ndarray, seed: int = 0) -> None:
        super().__init__()
        for fn in ("user_vectors", "item_vectors"):
            if not callable(getattr(model, fn, None)):
                raise TypeError(f"{type(model).__name__} has no {fn}(): not a matching model")
        if cfg.negatives != "shared" and cfg.num_negatives < 1:
            raise ConfigError(f"config key train.matching.num_negatives: {cfg.num_negatives} with negatives="
                              f"{cfg.negatives!r}; per-row sampling needs at least 1 negative per row")
        if cfg.negatives == "dns" and cfg.dns_candidates < cfg.num_negatives:
            raise ConfigError(f"config key train.matching.dns_candidates: {cfg.dns_candidates} < num_negatives="
                              f"{cfg.num_negatives} (DNS keeps the M best of the candidates)")
        self.model = model
        self.cfg = cfg
        freq = torch.as_tensor(np.asarray(item_freq, np.float64))
        prob = freq / max(float(freq.sum()), 1.0)
        # an item never clicked in training (p = 0) can still be a batch positive: floored, not -inf
        self.register_buffer("log_p", torch.log(prob.clamp_min(1e-12)).float(), persistent=False)
        self.n_items = len(freq) - 1
        self.gen = torch.Generator().manual_seed(seed)
        self.user_item_keys: Tensor | None = None  # sorted user * (N + 1) + item of the training clicks

    def attach_interactions(self, train) -> None:  # noqa: ANN001 (evaluate.retrieval.Interactions)
        """The training split's clicks (``Interactions``): per-row negatives that are one of the user's training
        items are drawn again (RecBole's sampler excludes the user's ``used_ids``)."""
        keys = np.unique(np.asarray(train.user, np.int64) * (self.n_items + 1) + np.asarray(train.item, np.int64))
        self.user_item_keys = torch.as_tensor(keys)

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

    def row_logits(self, u: Tensor, v_pos: Tensor, v_neg: Tensor) -> tuple[Tensor, Tensor]:
        """Per-row candidates: column 0 the positive, then the row's own M negatives (never an accidental hit:
        they were drawn again), all unmasked."""
        t = self.cfg.temperature
        s = torch.cat([(u * v_pos).sum(1, keepdim=True), torch.einsum("bd,bmd->bm", u, v_neg)], 1) / t
        return s, torch.ones_like(s, dtype=torch.bool)

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

    def _uniform_rows(self, user: Tensor, items: Tensor, k: int) -> Tensor:
        """[B, k] uniform draws from 1..N, each redrawn (up to ``MAX_REDRAWS`` rounds) while it is one of the
        user's training clicks (or, with no interactions attached, the row's own item)."""
        b = len(items)
        neg = torch.randint(1, self.n_items + 1, (b, k), generator=self.gen)
        keys = self.user_item_keys
        for _ in range(MAX_REDRAWS):
            if keys is None or len(keys) == 0:
                hit = neg == items[:, None]
            else:
                q = user[:, None] * (self.n_items + 1) + neg
                at = torch.searchsorted(keys, q).clamp_max(len(keys) - 1)
                hit = keys[at] == q
            n_hit = int(hit.sum())
            if n_hit == 0:
                break
            neg[hit] = torch.randint(1, self.n_items + 1, (n_hit,), generator=self.gen)
        return neg

    def row_negatives(self, user: Tensor, items: Tensor, u: Tensor, scen: Tensor) -> Tensor:
        """[B, M] negatives per row: uniform (``per_row``) or the M best-scored of ``dns_candidates`` (``dns``)."""
        m = self.cfg.num_negatives
        if self.cfg.negatives == "per_row":
            return self._uniform_rows(user, items, m)
        c = self.cfg.dns_candidates
        cand = self._uniform_rows(user, items, c)
        with torch.no_grad():
            vc = self.model.item_vectors(cand.flatten(), scen.repeat_interleave(c)).view(len(items), c, -1)
            score = torch.einsum("bd,bcd->bc", u.detach(), vc)
        return torch.gather(cand, 1, score.topk(m, dim=1).indices)

    def forward(self, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        m = batch.label("click") > 0.5
        sel = batch.select(torch.nonzero(m).squeeze(1))
        u = self.model.user_vectors(sel)
        items, scen = sel.item_index, sel.scenario_id
        v = self.model.item_vectors(items, scen)
        if len(sel) == 0:
            return u.sum() * 0.0 + v.sum() * 0.0, {"loss_match": 0.0, "positives": 0.0}
        if self.cfg.negatives == "shared":
            neg_items, v_neg = self._negatives(scen)
            s, mask = self.logits(u, v, items, v_neg, neg_items)
            loss = self.loss(s, mask)
            neg_flat = neg_items
        else:
            neg = self.row_negatives(sel.user_index, items, u, scen)
            mm = neg.shape[1]
            v_neg = self.model.item_vectors(neg.flatten(), scen.repeat_interleave(mm)).view(len(sel), mm, -1)
            s, mask = self.row_logits(u, v, v_neg)
            loss = self.loss(s, mask, in_batch=False)
            neg_flat = neg.flatten()
        parts = {"loss_match": float(loss.detach()), "positives": float(len(sel))}
        if self.cfg.reg_weight > 0:
            reg = self.l2(sel, items, neg_flat, [u, v] + ([v_neg.flatten(0, 1)] if v_neg is not None else []))
            loss = loss + self.cfg.reg_weight * reg
            parts["loss_reg"] = float(reg.detach())
        return loss, parts

    def l2(self, sel: Batch, items: Tensor, neg: Tensor | None, scored: list[Tensor]) -> Tensor:
        """RecBole's ``EmbLoss(require_pow=True)``: the sum of squared entries of the regularised embeddings over
        2 B (the model's ``reg_vectors(batch, items, negatives)`` if it has one, else the scored vectors)."""
        fn = getattr(self.model, "reg_vectors", None)
        tensors = fn(sel, items, neg) if callable(fn) else scored
        return sum(t.pow(2).sum() for t in tensors) / (2.0 * len(items))

    def loss(self, s: Tensor, mask: Tensor, in_batch: bool = True) -> Tensor:
        """``s`` [B, 1 + C] with the positive in column 0; ``mask`` False = not a negative of that row;
        ``in_batch``: columns 1..B are the batch's own items (their diagonal is the positive itself)."""
        neg_mask = mask.clone()
        neg_mask[:, 0] = False
        if in_batch:
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
DEFAULT_STAGE = {"name": "train", "objective": None, "sets": {}, "evaluate": True}


def check_monitor(monitor: str, ks: list[int]) -> None:
    """``train.monitor`` of a matching run must name a retrieval metric at one of ``train.matching.ks``."""
    for part in monitor.split("+"):
        name = part.strip().rsplit(".", 1)[-1]
        ok = any(name.startswith(p) and name[len(p):].isdigit() and int(name[len(p):]) in ks
                 for p in MONITOR_METRICS)
        if not ok:
            raise ConfigError(f"config key train.monitor: {monitor!r} is not a retrieval metric of a matching "
                              f"model (e.g. 'scenarios.*.ndcg@20' or 'recall@50'; K in train.matching.ks={ks})")


def model_stages(net: nn.Module) -> list[dict]:
    """The training stages a model declares (``net.training_stages()``: a list of {"name", "objective"
    ("module:Class" or None = ``MatchingObjective``), "sets" (dotted config keys -> values for that stage),
    "evaluate" (validate and early-stop each epoch)}), in order; the last one is the run itself (``RUN/``), each
    earlier one trains into ``RUN/<name>/`` and the next starts from its weights. Default: one stage."""
    fn = getattr(net, "training_stages", None)
    stages = [dict(DEFAULT_STAGE, **s) for s in fn()] if callable(fn) else [dict(DEFAULT_STAGE)]
    if not stages:
        raise ValueError(f"{type(net).__name__}.training_stages() declares no stage")
    names = [s["name"] for s in stages]
    if len(set(names)) != len(names) or any(not str(n).isidentifier() for n in names):
        raise ValueError(f"{type(net).__name__}.training_stages(): stage names {names} must be distinct identifiers")
    return stages


def build_objective(path: str | None, net: nn.Module, mcfg: MatchingConfig, item_freq: np.ndarray,
                    seed: int) -> nn.Module:
    """A stage's objective: ``MatchingObjective`` (None) or the class ``module:Class`` a model names, built as
    ``Class(model, matching_config, item_freq, seed=seed)``."""
    if path is None:
        return MatchingObjective(net, mcfg, item_freq, seed=seed)
    import importlib

    mod, _, cls = path.partition(":")
    return getattr(importlib.import_module(mod), cls)(net, mcfg, item_freq, seed=seed)


def stage_config(cfg, sets: dict):  # noqa: ANN001, ANN201
    """``cfg`` with a stage's dotted keys set (validated as a RunConfig, a bad key named)."""
    if not sets:
        return cfg
    from pydantic import ValidationError

    from unisr.pipeline.config import RunConfig

    d = cfg.model_dump()
    for key, value in sets.items():
        node = d
        *path, last = key.split(".")
        for p in path:
            if not isinstance(node.get(p), dict):
                raise ConfigError(f"stage config key {key!r}: {p!r} is not a config section")
            node = node[p]
        node[last] = value
    try:
        return RunConfig.model_validate(d)
    except ValidationError as e:
        raise ConfigError(f"stage config {sets}: {e}") from None


def restore_weights(net: nn.Module, path) -> None:  # noqa: ANN001
    """Load a stage's saved ``model.safetensors`` into ``net`` (every weight and buffer; strict)."""
    from safetensors.torch import load_model

    load_model(net, str(path), strict=True)


def train_matching(cfg, spec, gate, encoder, pipe, net: nn.Module, out, *, resume: bool = False) -> dict:  # noqa: ANN001
    """The matching half of ``train_run`` (a model registered with task "matching"): the model's training stages
    (``model_stages``; default one stage of ``MatchingObjective``), the last one early-stopped on a validation
    retrieval metric (exact search), then the test split's retrieval metrics (exact and the ANN index side by
    side, plus the popularity baseline) and ``RUN/item_index/``. A model with per-scenario item vectors
    (``scenario_items``) is embedded and indexed in the scenarios the run trains or evaluates on only.
    Returns the run's ``metrics.json`` content (``train_run`` wraps it in its ``TrainedRun``)."""
    import json

    from unisr.evaluate.retrieval import Interactions
    from unisr.index.faiss_index import ItemIndex, build_index, effective_params, save_indexes
    from unisr.models.registry import get_model_info
    from unisr.pipeline.pipeline import Pipeline
    from unisr.train.trainer import fit_run, run_summary, seed_everything

    mcfg = cfg.train.matching
    check_monitor(cfg.train.monitor, mcfg.ks)
    if hasattr(net, "attach_items"):
        net.attach_items(encoder)
    attach_run_graph(net, cfg, pipe)
    schema = encoder.schema
    n_items, n_scen, names = schema.num_items, schema.num_scenarios, schema.scenarios
    with torch.no_grad():  # the index parameters fit the vectors? (fail before training, naming the key)
        net.eval()
        dim = int(net.item_vectors(torch.ones(1, dtype=torch.long), torch.zeros(1, dtype=torch.long)).shape[1])
        net.train()
    effective_params(mcfg.index, n_items, dim)
    stages = model_stages(net)
    train_x = Interactions.from_batches(pipe.batches("train"))
    valid_x = Interactions.from_batches(pipe.batches("valid"))
    if len(train_x) == 0:
        raise ConfigError(f"dataset {spec.name!r}: no clicked events in the training split, nothing to match")
    freq = np.bincount(train_x.item, minlength=n_items + 1)
    if hasattr(net, "attach_interactions"):  # a model built on the training clicks (LightGCN's graph)
        net.attach_interactions(train_x)
    per_scenario = getattr(net, "scenario_items", None) is True  # declared per-scenario item vectors
    active = sorted(set(np.unique(train_x.scenario).tolist())) if per_scenario else None

    def retrieval(split: str, excluded: Interactions, ann=None, indexes=None, slices=None) -> tuple:  # noqa: ANN001
        return retrieval_split(net, pipe, mcfg, split, excluded, ann=ann, indexes=indexes, scenarios=active,
                               slices=slices)

    stage_log = []
    seed_everything(cfg.train.seed)
    for k, st in enumerate(stages):
        last = k == len(stages) - 1
        scfg = stage_config(cfg, st["sets"])
        spipe = pipe if scfg.data == cfg.data else Pipeline.open(scfg, cfg.data_path, encoder)
        sdir = out if last else out / st["name"]
        sdir.mkdir(parents=True, exist_ok=True)
        objective = build_objective(st["objective"], net, scfg.train.matching, freq, cfg.train.seed)
        if hasattr(objective, "attach_interactions"):  # per-row negatives skip the user's training clicks
            objective.attach_interactions(train_x)
        evaluate = (lambda: retrieval("valid", train_x)[0]) if st["evaluate"] else None
        trainer, early, wall = fit_run(objective, net, scfg.train, sdir, spipe.epochs("train"), evaluate,
                                       resume=resume)
        stage_log.append({"name": st["name"], "epochs": scfg.train.epochs, "train_seconds": trainer.train_seconds,
                          "train_samples": trainer.samples_seen, "best_epoch": early.best_epoch,
                          "folder": str(sdir.relative_to(out)) if not last else "."})
        if not last:  # the next stage starts from this stage's saved weights (the file, also after a resume)
            restore_weights(net, sdir / "model.safetensors")
            stage_log[-1]["restored_into"] = stages[k + 1]["name"]

    excluded = train_x + valid_x  # the test split ranks without the user's train and valid clicks
    ann = mcfg.index
    slices = training_clicks(net, pipe, train_x, n_items, n_scen)  # HR by item / query popularity (fig. 4)
    res, corpus, queries, indexes = retrieval("test", excluded, ann=ann, indexes="build", slices=slices)
    item_ids = np.asarray(encoder.item_ids, np.int64)  # entity r + 1 = item_ids[r] = index row r
    params = effective_params(ann, n_items, corpus.shape[2])
    if per_scenario:  # one index per scenario the run embedded (its training and test scenarios)
        kept = [s for s in range(n_scen) if s in corpus]
        entries = [ItemIndex(names[s], indexes[s] if indexes[s] is not None else build_index(corpus[s], ann),
                             item_ids, params) for s in kept]
    else:
        entries = [ItemIndex(names[s], indexes[s], item_ids, params) for s in range(n_scen)]
    save_indexes(out / "item_index", entries, ann)
    pop = popularity_baseline(net, queries, train_x, excluded, n_items, names, mcfg, slices=slices)
    oracles = oracle_baselines(net, pipe.ctx.root, encoder, queries, excluded, names, mcfg)
    head, tail = run_summary(cfg, spec.name, get_model_info(cfg.model_name).task, trainer, early, wall)
    metrics = {
        **head,
        **res,  # overall / scenarios: exact full-sort retrieval; "ann": the same through the saved index
        # the training split's most-clicked items per scenario, and the simulator's oracles: same protocol
        "baselines": {"popularity": pop, **oracles},
        **tail,
        "matching": {"loss": mcfg.loss, "logq": mcfg.logq, "num_negatives": mcfg.num_negatives,
                     "exclude": mcfg.exclude, "index": ann.kind},
        "stages": stage_log,
        "rows": gate.metrics(),
        "rejected": gate.reason_counts(),
    }
    if len(stages) > 1 or stages[0]["objective"] is not None:  # the model's own objectives, not MatchingObjective
        metrics["matching"] = {"objectives": [s["objective"] for s in stages], "exclude": mcfg.exclude,
                               "index": ann.kind}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1, default=float))
    return metrics


def attach_run_graph(net: nn.Module, cfg, pipe) -> None:  # noqa: ANN001
    """A matching model that samples its own neighbourhoods (``attach_graph``, BOMGraph) gets the graph of its
    ``graph_config()`` (cached under the dataset's graph folder) and the dataset's query table
    (``pipeline/model_graph.py:attach_model_graph``, which serving shares)."""
    from unisr.pipeline.model_graph import attach_model_graph

    attach_model_graph(net, cfg, pipe)


class ScenarioCorpus:
    """An [S, N, d] item corpus of which only some scenarios are embedded (a model with one item vector per
    scenario, evaluated on some scenarios): reads like the ndarray ``evaluate_retrieval`` takes (``shape``,
    ``corpus[s]``); ``s in corpus`` = scenario s is embedded.

    Shapes:
        corpus[s] -> [N, d] float32
    """

    def __init__(self, vectors: dict[int, np.ndarray], n_scenarios: int, n_items: int, dim: int) -> None:
        self.vectors = vectors
        self.shape = (n_scenarios, n_items, dim)

    def __contains__(self, s: int) -> bool:
        return int(s) in self.vectors

    def __getitem__(self, s: int) -> np.ndarray:
        if int(s) not in self.vectors:
            raise KeyError(f"scenario {s} was not embedded (embedded: {sorted(self.vectors)})")
        return self.vectors[int(s)]


@torch.no_grad()
def embed_scenarios(net: nn.Module, n_items: int, n_scenarios: int, scenarios, batch: int = 8192  # noqa: ANN001
                    ) -> ScenarioCorpus:
    """Every item's vector in each of ``scenarios``, ``batch`` items at a time (row r = item entity r + 1)."""
    out: dict[int, np.ndarray] = {}
    for s in sorted({int(x) for x in scenarios}):
        rows = []
        for a in range(1, n_items + 1, batch):
            idx = torch.arange(a, min(a + batch, n_items + 1))
            rows.append(net.item_vectors(idx, torch.full_like(idx, s)).float().numpy())
        out[s] = np.ascontiguousarray(np.concatenate(rows), dtype=np.float32)
    dim = next(iter(out.values())).shape[1] if out else 1
    return ScenarioCorpus(out, n_scenarios, n_items, dim)


def retrieval_split(net: nn.Module, pipe, mcfg: MatchingConfig, split: str, excluded, *, ann=None,  # noqa: ANN001
                    indexes=None, scenarios=None, slices=None) -> tuple:  # noqa: ANN001
    """Retrieval metrics of ``split`` (``evaluate.retrieval.evaluate_retrieval``) with the model in eval mode:
    ``indexes`` = a list of per-scenario ANN indexes (None entries built here), ``"build"`` (built here from the
    corpus) or None (exact only). ``scenarios``: for a model with per-scenario item vectors, embed only these
    scenarios and the split's query scenarios (``ScenarioCorpus``); None = every scenario (``embed_corpus``).
    ``slices``: the training clicks (``training_clicks``) that add ``scenarios.<name>.slices``; None = none.
    Returns (metrics, corpus [S, N, d], queries, indexes)."""
    from unisr.evaluate.retrieval import build_indexes, collect_queries, embed_corpus, evaluate_retrieval
    from unisr.index.faiss_index import build_index

    schema = pipe.encoder.schema
    n_items, n_scen = schema.num_items, schema.num_scenarios
    was = net.training
    net.eval()
    try:
        q = collect_queries(net.user_vectors, pipe.batches(split), n_scen, excluded, n_items, mcfg.exclude,
                            group=getattr(net, "query_group", None),
                            category=getattr(net, "query_category", None)
                            if getattr(net, "retrieval_category", None) is not None else None)
        if scenarios is not None:
            corpus = embed_scenarios(net, n_items, n_scen, set(scenarios) | set(np.unique(q.scenario).tolist()))
            if isinstance(indexes, str):
                indexes = [None] * n_scen
        else:
            corpus = embed_corpus(net, n_items, n_scen)
            if isinstance(indexes, str):
                indexes = build_indexes(corpus, ann)
        if indexes is not None:  # an index for every scenario with queries
            indexes = list(indexes)
            for s in np.unique(q.scenario).tolist():
                if indexes[s] is None:
                    indexes[s] = build_index(corpus[s], ann)
        res = evaluate_retrieval(q, corpus, excluded, schema.scenarios, mcfg, ann=ann, indexes=indexes,
                                 item_category=getattr(net, "retrieval_category", None), slices=slices)
        return res, corpus, q, indexes
    finally:
        net.train(was)


SPLITS_BEFORE = {"valid": ("train",), "test": ("train", "valid")}  # the clicks a split's ranking excludes


def evaluate_matching_run(run, cfg, net: nn.Module, pipe, split: str) -> dict:  # noqa: ANN001
    """``unisr evaluate --run RUN`` of a matching run: ``split``'s retrieval metrics, exact and through the
    saved ``RUN/item_index/`` side by side (the earlier splits' clicks excluded, as in training). A model with
    per-scenario item vectors is embedded in the scenarios of its saved indexes and the split's queries."""
    from pathlib import Path

    from unisr.evaluate.retrieval import Interactions
    from unisr.index.faiss_index import load_indexes

    attach_run_graph(net, cfg, pipe)
    excluded = Interactions.empty()
    for before in SPLITS_BEFORE.get(split, ()):
        excluded = excluded + Interactions.from_batches(pipe.batches(before))
    index_dir = Path(run) / "item_index"
    indexes, ann, scenarios = None, None, None
    names = pipe.encoder.schema.scenarios
    per_scenario = getattr(net, "scenario_items", None) is True  # declared per-scenario item vectors
    if (index_dir / "manifest.json").is_file():
        saved = load_indexes(index_dir)
        if all(n in saved for n in names):
            indexes = [saved[n].index for n in names]
            ann = cfg.train.matching.index
        elif per_scenario and saved:
            indexes = [saved[n].index if n in saved else None for n in names]
            ann = cfg.train.matching.index
    if per_scenario and indexes is not None:
        scenarios = [s for s, ix in enumerate(indexes) if ix is not None]
    train_x = Interactions.from_batches(pipe.batches("train"))
    slices = training_clicks(net, pipe, train_x, pipe.encoder.schema.num_items, len(names))
    res, _, queries, _ = retrieval_split(net, pipe, cfg.train.matching, split, excluded, ann=ann,
                                         indexes=indexes, scenarios=scenarios, slices=slices)
    mcfg = cfg.train.matching
    pop = popularity_baseline(net, queries, train_x, excluded, pipe.encoder.schema.num_items, names, mcfg,
                              slices=slices)
    return {**res, "baselines": {"popularity": pop, **oracle_baselines(net, pipe.ctx.root, pipe.encoder, queries,
                                                                       excluded, names, mcfg)}}


def oracle_baselines(net: nn.Module, data, encoder, queries, excluded, names: list[str],  # noqa: ANN001
                     mcfg: MatchingConfig) -> dict:
    """The retrieval ceilings of ``queries`` on simulated data (``train.matching.oracle``), under the model's
    protocol (its queries, exclusions and category filter): ``oracle_click`` ranks by the simulator's true
    position-free P(click), ``oracle_expected`` by the expected clicks over its retrieval and ranker
    (``evaluate/retrieval_oracle.py``, ``simulate/truth_scores.py``); share panels (a click on a user) left out.
    {} for real data (no truth) or "none"."""
    if mcfg.oracle == "none" or data is None:
        return {}
    from pathlib import Path

    import yaml

    from unisr.evaluate.retrieval_oracle import evaluate_oracle, select_queries
    from unisr.simulate.truth_scores import SimTruth

    spec = Path(data) / "dataset.yaml"
    if not spec.is_file() or "simulator" not in (yaml.safe_load(spec.read_text()) or {}):
        return {}
    kinds = encoder.schema.scenario_kinds
    items_scored = np.array([not str(k).startswith("share") for k in kinds])  # a share panel scores users
    queries = select_queries(queries, items_scored[queries.scenario])
    if not len(queries.user):
        return {}
    truth = SimTruth(data)
    item_ids = np.asarray(encoder.item_ids, np.int64)
    cat = getattr(net, "retrieval_category", None)
    out = {}
    for name, exposure in (("oracle_click", False), ("oracle_expected", True)):
        if mcfg.oracle in ("both", name.removeprefix("oracle_")):
            scorer = truth.entity_scorer(item_ids, exposure=exposure, draws=mcfg.oracle_draws)
            out[name] = evaluate_oracle(queries, scorer, excluded, names, mcfg, len(item_ids), item_category=cat)
    return out


def popularity_baseline(net: nn.Module, queries, train_x, excluded, n_items: int, names: list[str],  # noqa: ANN001
                        mcfg: MatchingConfig, slices=None) -> dict:  # noqa: ANN001
    """The popularity baseline of ``queries`` under the model's protocol: the training split's most-clicked
    items per scenario, within the query's category where the model retrieves so (``retrieval_category``);
    with ``slices`` (``training_clicks``) its ``scenarios.<name>.slices`` too."""
    from unisr.evaluate.retrieval import evaluate_retrieval, popularity_corpus

    pop_q = dataclasses.replace(queries, vectors=np.ones((len(queries.user), 1), np.float32))
    return evaluate_retrieval(pop_q, popularity_corpus(train_x, n_items, len(names)), excluded, names, mcfg,
                              item_category=getattr(net, "retrieval_category", None), slices=slices)


def training_clicks(net: nn.Module, pipe, train_x, n_items: int, n_scenarios: int):  # noqa: ANN001, ANN201
    """The training clicks the test retrieval is sliced by (``evaluate/retrieval_slices.py:TrainingClicks``):
    clicks per (scenario, item) from ``train_x``, and per (query group, scenario), the group being the key the
    evaluated queries use: the user, or the model's ``query_group`` (BOMGraph: the trigger item, the keyword's
    graph node, the visual query's row), read from a second pass over the training batches."""
    from unisr.evaluate.retrieval import Interactions
    from unisr.evaluate.retrieval_slices import TrainingClicks

    group = getattr(net, "query_group", None)
    gx = train_x if group is None else Interactions.from_batches(pipe.batches("train"), group=group)
    return TrainingClicks.build(gx.user, gx.scenario, train_x.item_counts(n_items, n_scenarios))
