"""MatchingObjective's per-row and dynamic hard (DNS) negatives, and the RecBole-style L2 regulariser
(train/matching.py): the sampling rules on hand cases, the BPR loss value, the default left unchanged."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from synth import random_batch, tiny_schema
from unisr.pipeline.config import ConfigError, MatchingConfig
from unisr.train.matching import MatchingObjective


class MF(nn.Module):
    """A tiny user/item embedding model (the matching interface only)."""

    def __init__(self, n_users=50, n_items=40, d=4, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.u = nn.Embedding(n_users, d)
        self.i = nn.Embedding(n_items, d)

    def user_vectors(self, batch):
        return self.u(batch.user_index)

    def item_vectors(self, item_index, scenario):
        return self.i(item_index)


def _clicked(n=32, seed=0):
    b = random_batch(tiny_schema(), n, seed=seed)
    b.labels["click"] = torch.ones(n)
    return b


def test_default_is_the_shared_sampler():
    cfg = MatchingConfig()
    assert cfg.negatives == "shared" and cfg.num_negatives == 0 and cfg.reg_weight == 0.0


def test_per_row_negatives_skip_the_users_training_items():
    n_items = 39
    obj = MatchingObjective(MF(), MatchingConfig(loss="bpr", negatives="per_row", num_negatives=3), np.ones(40))
    users = np.repeat(np.arange(1, 6), 30)  # users 1..5 clicked items 1..30 in training: only 31..39 are left
    obj.attach_interactions(SimpleNamespace(user=users, item=np.tile(np.arange(1, 31), 5)))
    user = torch.arange(1, 6).repeat(40)
    neg = obj.row_negatives(user, torch.ones(200, dtype=torch.long), torch.zeros(200, 4), torch.zeros(200).long())
    assert neg.shape == (200, 3)
    assert bool((neg > 30).all() & (neg <= n_items).all())
    # before attach_interactions only the row's own item is redrawn
    obj2 = MatchingObjective(MF(), MatchingConfig(loss="bpr", negatives="per_row", num_negatives=50), np.ones(40))
    items = torch.randint(1, 40, (64,))
    neg2 = obj2.row_negatives(items, items, torch.zeros(64, 4), torch.zeros(64).long())
    assert not bool((neg2 == items[:, None]).any())


def test_per_row_bpr_loss_is_recboles_pairwise_loss():
    model = MF()
    obj = MatchingObjective(model, MatchingConfig(loss="bpr", negatives="per_row", num_negatives=1,
                                                  logq=False, temperature=1.0), np.ones(40), seed=3)
    batch = _clicked()
    fixed = torch.randint(1, 40, (32, 1))
    obj.row_negatives = lambda *a: fixed  # the sampled negatives, fixed for the hand computation
    loss, parts = obj(batch)
    u, p, n = model.u(batch.user_index), model.i(batch.item_index), model.i(fixed[:, 0])
    want = -F.logsigmoid((u * p).sum(1) - (u * n).sum(1)).mean()
    assert loss.item() == pytest.approx(want.item(), rel=1e-5) and parts["positives"] == 32
    s, mask = obj.row_logits(u, p, n[:, None])
    assert s.shape == (32, 2) and bool(mask.all())  # no in-batch columns in per-row mode


def test_dns_keeps_the_best_scored_candidates():
    model = MF()
    obj = MatchingObjective(model, MatchingConfig(loss="bpr", negatives="dns", num_negatives=2, dns_candidates=6),
                            np.ones(40), seed=1)
    u = torch.randn(16, 4)
    user, items, scen = torch.arange(1, 17), torch.zeros(16, dtype=torch.long), torch.zeros(16, dtype=torch.long)
    gen_state = obj.gen.get_state()
    cand = obj._uniform_rows(user, items, 6)
    obj.gen.set_state(gen_state)  # the same draws again inside row_negatives
    neg = obj.row_negatives(user, items, u, scen)
    score = torch.einsum("bd,bcd->bc", u, model.i(cand)).detach()
    want = torch.gather(cand, 1, score.topk(2, dim=1).indices)
    assert torch.equal(neg, want)


def test_l2_regulariser_is_sum_of_squares_over_two_b():
    model = MF()
    cfg = MatchingConfig(loss="bpr", negatives="per_row", num_negatives=1, reg_weight=0.5)
    obj = MatchingObjective(model, cfg, np.ones(40))
    batch = _clicked()
    fixed = torch.randint(1, 40, (32, 1))
    obj.row_negatives = lambda *a: fixed
    loss, parts = obj(batch)
    u, p, n = model.u(batch.user_index), model.i(batch.item_index), model.i(fixed[:, 0])
    reg = (u.pow(2).sum() + p.pow(2).sum() + n.pow(2).sum()) / 64
    assert parts["loss_reg"] == pytest.approx(reg.item(), rel=1e-5)
    assert loss.item() == pytest.approx(parts["loss_match"] + 0.5 * reg.item(), rel=1e-5)


@pytest.mark.parametrize("kw", [{"negatives": "per_row", "num_negatives": 0},
                                {"negatives": "dns", "num_negatives": 4, "dns_candidates": 2}])
def test_bad_per_row_settings_name_the_key(kw):
    with pytest.raises(ConfigError, match="train.matching"):
        MatchingObjective(MF(), MatchingConfig(**kw), np.ones(40))
