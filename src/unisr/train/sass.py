"""SASS's two training objectives (Zhang et al., CIKM'22, sec. 4.1.4 and 4.2.2), outside the model as
``train/matching.py:MatchingObjective``; ``train/matching.py:train_matching`` runs them as the stages the model
declares (``models/sass.py:SASS.training_stages``).

Pre-training (``ContrastivePretrain``, eqs. 9-10), on every impression of a batch (clicked = labelled and
exposed-not-clicked = unlabelled alike): each user (item) seen in k scenarios of the batch gives its k scenario
views (one row per (entity, scenario): its first row in the batch) and all C(k, 2) pairs of them; N pairs (at most
``model.cfg.pretrain_pairs``, drawn at random when more) give 2N ML-SAT outputs; for the anchor e_i its positive is
its partner e_j and the other 2(N-1) vectors are its negatives (NT-Xent of SimCLR, cosine similarity over the
temperature tau). Loss = the user side's + the item side's.

Fine-tuning (``ScenarioPairwiseFinetune``, eqs. 11-13), on the clicked (labelled) rows: each (user, clicked item,
scenario) with M items sampled from the whole corpus with probability proportional to (training clicks + 1)^0.75
(word2vec's negative sampling, the paper's ref. [23]; + 1 so every candidate, clicked or not, can be drawn) gives triplets; per triplet
log(1 + sigmoid(cos(u_s, n_s) - cos(u_s, p_s))) on the scenario outputs (eq. 11) and the same on the global shared
network's outputs (eq. 12); loss = L_scenario + beta * L_auxiliary (eq. 13). Negatives equal to the positive are
left out of the mean. Sampling uses torch's global generator, which the resumable checkpoint keeps.

Shapes:
    scenario_pairs(entity [R], scenario [R]) -> (i [P], j [P]) row indices of the positive pairs
    contrastive_logits(e_i [N, d], e_j [N, d], tau) -> (logits [2N, 2N] (diagonal -inf), positive column [2N])
    nt_xent(e_i [N, d], e_j [N, d], tau) -> [] (mean of eq. 9 over the 2N anchors)
    pairwise_loss(u [B, d], p [B, d], n [B, M, d], keep [B, M] bool) -> [] (eqs. 11 / 12)
    ContrastivePretrain.forward(batch) / ScenarioPairwiseFinetune.forward(batch) -> (loss [], parts)
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unisr.data.batch import Batch


def scenario_pairs(entity: Tensor, scenario: Tensor) -> tuple[Tensor, Tensor]:
    """The positive pairs of a batch's rows: one representative row per (entity, scenario) (its first row), and
    for an entity seen in k scenarios all C(k, 2) pairs of its representatives. Vectorised (no Python loop)."""
    if entity.numel() == 0:
        z = torch.zeros(0, dtype=torch.long)
        return z, z
    n_s = int(scenario.max()) + 1
    key = entity.long() * n_s + scenario.long()
    uniq, inv = torch.unique(key, return_inverse=True)  # sorted: the representatives grouped by entity
    rows = torch.arange(len(key))
    first = torch.full((len(uniq),), len(key), dtype=torch.long).scatter_reduce(0, inv, rows, "amin")
    ent = torch.div(uniq, n_s, rounding_mode="floor")
    _, counts = torch.unique_consecutive(ent, return_counts=True)
    starts = torch.cumsum(counts, 0) - counts
    grp = torch.repeat_interleave(torch.arange(len(counts)), counts)
    pos = torch.arange(len(uniq)) - starts[grp]  # position of each representative in its entity's group
    later = counts[grp] - 1 - pos  # partners after it in the group
    a = torch.repeat_interleave(torch.arange(len(uniq)), later)
    off = torch.arange(len(a)) - torch.repeat_interleave(torch.cumsum(later, 0) - later, later)
    b = a + 1 + off
    return first[a], first[b]


def contrastive_logits(e_i: Tensor, e_j: Tensor, tau: float) -> tuple[Tensor, Tensor]:
    """Eq. 9's scores: the 2N vectors' cosine similarities over tau, each vector's own column -inf (k != i);
    anchor r's positive is column ``positive[r]`` (its partner), every other finite column a negative."""
    n = e_i.shape[0]
    z = F.normalize(torch.cat([e_i, e_j], 0), dim=1)
    s = z @ z.T / tau
    s = s.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=s.device), float("-inf"))
    positive = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(s.device)
    return s, positive


def nt_xent(e_i: Tensor, e_j: Tensor, tau: float) -> Tensor:
    """Eq. 9 for every anchor (both directions of each pair), averaged (eq. 10 sums; see docs/models/sass.md)."""
    s, positive = contrastive_logits(e_i, e_j, tau)
    return F.cross_entropy(s, positive)


def pairwise_loss(u: Tensor, p: Tensor, n: Tensor, keep: Tensor) -> Tensor:
    """Eqs. 11 / 12: mean over the kept (user, positive, negative) triplets of
    log(1 + sigmoid(cos(u, n) - cos(u, p))) (vectors L2-normalised, so the inner product is the cosine)."""
    u, p, n = F.normalize(u, dim=-1), F.normalize(p, dim=-1), F.normalize(n, dim=-1)
    diff = torch.einsum("bd,bmd->bm", u, n) - (u * p).sum(1, keepdim=True)
    term = torch.log1p(torch.sigmoid(diff))
    k = keep.to(term.dtype)
    return (term * k).sum() / k.sum().clamp_min(1.0)


class _SASSObjective(nn.Module):
    """What ``Trainer`` needs of an objective beyond ``forward``: the model and no training-only weights."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        for fn in ("user_views", "item_views"):
            if not callable(getattr(model, fn, None)):
                raise TypeError(f"{type(model).__name__} has no {fn}(): not a SASS model")
        self.model = model
        self.cfg = model.cfg

    def component_state_dict(self) -> dict[str, Tensor]:
        return {}

    def load_component_state_dict(self, state: dict[str, Tensor]) -> None:
        if state:
            raise KeyError(f"checkpoint has training-only components a SASS objective lacks: {sorted(state)}")


class ContrastivePretrain(_SASSObjective):
    """Scenario-supervised contrastive pre-training (eqs. 9-10) on labelled and unlabelled rows, user and item side.

    Shapes:
        forward(batch) -> (loss [], {"loss_user", "loss_item", "pairs_user", "pairs_item"})
    """

    def __init__(self, model: nn.Module, mcfg=None, item_freq: np.ndarray | None = None, seed: int = 0) -> None:  # noqa: ANN001
        super().__init__(model)
        del mcfg, item_freq, seed  # every impression is used; pairs are drawn with the global generator

    def _cap(self, i: Tensor, j: Tensor) -> tuple[Tensor, Tensor]:
        n = self.cfg.pretrain_pairs
        if len(i) > n:
            keep = torch.randperm(len(i))[:n]
            i, j = i[keep], j[keep]
        return i, j

    def forward(self, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        tau = self.cfg.temperature
        parts: dict[str, float] = {}
        losses = []
        ui, uj = self._cap(*scenario_pairs(batch.user_index, batch.scenario_id))
        if len(ui) > 1:  # one pair has no negatives
            e = self.model.user_views(batch.select(torch.cat([ui, uj])))[0]
            losses.append(nt_xent(e[:len(ui)], e[len(ui):], tau))
            parts["loss_user"] = float(losses[-1].detach())
        ii, ij = self._cap(*scenario_pairs(batch.item_index, batch.scenario_id))
        if len(ii) > 1:
            rows = torch.cat([ii, ij])
            e = self.model.item_views(batch.item_index[rows], batch.scenario_id[rows])[0]
            losses.append(nt_xent(e[:len(ii)], e[len(ii):], tau))
            parts["loss_item"] = float(losses[-1].detach())
        parts["pairs_user"], parts["pairs_item"] = float(len(ui)), float(len(ii))
        if not losses:  # no entity seen in two scenarios: a zero loss that still reaches the graph
            one = torch.zeros(1, dtype=torch.long)
            z = self.model.item_views(one, batch.scenario_id[:1].clamp_min(0) if len(batch) else one)[0]
            return z.sum() * 0.0, parts
        return sum(losses), parts


class ScenarioPairwiseFinetune(_SASSObjective):
    """Fine-tuning (eqs. 11-13): scenario pairwise loss + beta * global auxiliary pairwise loss, clicked rows.

    ``item_freq``: [N + 1] training clicks per item entity (row 0 = OOV, never sampled).

    Shapes:
        forward(batch) -> (loss [], {"loss_scenario", "loss_auxiliary", "positives"})
    """

    def __init__(self, model: nn.Module, mcfg=None, item_freq: np.ndarray | None = None, seed: int = 0) -> None:  # noqa: ANN001
        super().__init__(model)
        del seed
        self.temperature = float(getattr(mcfg, "temperature", 0.05))
        self.logq = bool(getattr(mcfg, "logq", True))
        if item_freq is None:
            raise ValueError("ScenarioPairwiseFinetune needs item_freq (training clicks per item) for its negatives")
        # the whole candidate set: every item (clicked or not) has a chance, (clicks + 1)^0.75
        w = (np.asarray(item_freq, np.float64) + 1.0) ** self.cfg.negative_power
        w[0] = 0.0
        self.register_buffer("neg_prob", torch.as_tensor(w / w.sum(), dtype=torch.float32), persistent=False)
        freq = np.asarray(item_freq, np.float64)
        p = freq / max(float(freq.sum()), 1.0)
        self.register_buffer("log_p", torch.log(torch.as_tensor(p).clamp_min(1e-12)).float(), persistent=False)

    def sample_negatives(self, b: int) -> Tensor:
        m = self.cfg.negatives
        return torch.multinomial(self.neg_prob, b * m, replacement=True).view(b, m)

    def forward(self, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        sel = batch.select(torch.nonzero(batch.label("click") > 0.5).squeeze(1))
        items, scen = sel.item_index, sel.scenario_id
        u_e, u_g = self.model.user_views(sel)
        p_e, p_g = self.model.item_views(items, scen)
        if len(sel) == 0:
            return u_e.sum() * 0.0 + p_e.sum() * 0.0, {"loss_scenario": 0.0, "loss_auxiliary": 0.0,
                                                       "positives": 0.0}
        if self.cfg.finetune_loss == "softmax":
            return self._softmax(u_e, u_g, p_g, items, scen)
        neg = self.sample_negatives(len(sel))
        m = neg.shape[1]
        n_e, n_g = self.model.item_views(neg.reshape(-1), scen.repeat_interleave(m))
        keep = neg != items[:, None]
        l_s = pairwise_loss(u_e, p_e, n_e.view(len(sel), m, -1), keep)
        l_g = pairwise_loss(u_g, p_g, n_g.view(len(sel), m, -1), keep)
        loss = l_s + self.cfg.beta * l_g
        return loss, {"loss_scenario": float(l_s.detach()), "loss_auxiliary": float(l_g.detach()),
                      "positives": float(len(sel))}

    def _softmax(self, u_e: Tensor, u_g: Tensor, p_g: Tensor, items: Tensor, scen: Tensor
                 ) -> tuple[Tensor, dict[str, float]]:
        """The deviation ``finetune_loss="softmax"``: in-batch sampled softmax (the batch's clicked items as
        candidates, each embedded in the row's scenario, logits / ``train.matching.temperature``, logQ-corrected
        with ``train.matching.logq``) in place of eq. 11, and the same on the global outputs in place of eq. 12."""
        b = len(items)
        present = torch.unique(scen)
        v = self.model.item_views(items.repeat(len(present)), present.repeat_interleave(b))[0].view(len(present), b, -1)
        v_row = v[torch.searchsorted(present, scen)]  # [B, B, d]: candidate j in row i's scenario
        l_s = self._ce(torch.einsum("bd,bjd->bj", u_e, v_row), items)
        l_g = self._ce(u_g @ p_g.T, items)
        loss = l_s + self.cfg.beta * l_g
        return loss, {"loss_scenario": float(l_s.detach()), "loss_auxiliary": float(l_g.detach()),
                      "positives": float(b)}

    def _ce(self, s: Tensor, items: Tensor) -> Tensor:
        s = s / self.temperature
        if self.logq:
            s = s - (math.log(len(items)) + self.log_p[items])[None, :]
        dup = (items[None, :] == items[:, None]) & ~torch.eye(len(items), dtype=torch.bool)
        return F.cross_entropy(s.masked_fill(dup, -1e9), torch.arange(len(items)))
