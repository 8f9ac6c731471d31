"""The two-tower objective (train/matching.py): the logQ correction and the three losses on hand cases."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from unisr.pipeline.config import ConfigError, MatchingConfig
from unisr.train.matching import MatchingObjective, check_monitor


class Fixed(torch.nn.Module):
    """A 'model' with fixed user / item vectors (no parameters needed for the hand cases)."""

    def __init__(self, items):
        super().__init__()
        self.register_buffer("items", torch.as_tensor(items, dtype=torch.float32))

    def user_vectors(self, batch):  # pragma: no cover - not used by the hand cases
        raise NotImplementedError

    def item_vectors(self, item_index, scenario):
        return self.items[item_index]


def objective(**kw):
    freq = np.array([0, 6, 3, 1])  # item entities 1..3 clicked 6, 3, 1 times in training: p = .6, .3, .1
    items = [[0, 0], [1, 0], [0, 1], [1, 1]]
    return MatchingObjective(Fixed(items), MatchingConfig(temperature=1.0, **kw), freq)


def test_logq_correction_hand_case():
    obj = objective(logq=True)
    u = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    items = torch.tensor([1, 2])
    v = obj.model.item_vectors(items, None)
    s, mask = obj.logits(u, v, items, None)
    raw = u @ v.T  # [[2, 0], [0, 1]]
    log_q = math.log(2) + np.log([0.6, 0.3])  # log(B * p_j), B = 2 positives in the batch
    expect_inb = raw.numpy() - log_q[None, :]
    assert np.allclose(s[:, 1:].detach().numpy(), expect_inb, atol=1e-6)
    assert np.allclose(s[:, 0].detach().numpy(), np.diag(expect_inb), atol=1e-6)
    # the loss is the cross-entropy of the diagonal over the corrected in-batch row
    loss = obj.loss(s, mask)
    ce = F.cross_entropy(torch.as_tensor(expect_inb), torch.tensor([0, 1]))
    assert float(loss) == pytest.approx(float(ce), abs=1e-6)
    # without logQ: the raw scores
    s0, _ = objective(logq=False).logits(u, v, items, None)
    assert np.allclose(s0[:, 1:].detach().numpy(), raw.numpy())
    # a popular item is penalised more: user 1's score of item 1 (p=.6) drops more than of item 2 (p=.3)
    assert (raw - s[:, 1:])[1, 0] > (raw - s[:, 1:])[1, 1]


def test_uniform_negatives_corrected_by_m_over_n():
    obj = objective(logq=True, num_negatives=2)
    u = torch.tensor([[1.0, 1.0]])
    items = torch.tensor([1])
    v = obj.model.item_vectors(items, None)
    v_neg = obj.model.item_vectors(torch.tensor([[2, 3]]), None)  # [1, 2, d]
    s, _ = obj.logits(u, v, items, v_neg)
    raw_neg = (u[:, None, :] * v_neg).sum(-1)[0]
    assert np.allclose(s[0, 2:].detach().numpy(), raw_neg.numpy() - math.log(2 / 3))


def test_duplicate_positives_are_not_negatives():
    obj = objective(logq=False)
    u = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    items = torch.tensor([1, 1, 2])  # rows 0 and 1 clicked the same item
    v = obj.model.item_vectors(items, None)
    s, mask = obj.logits(u, v, items, None)
    assert not mask[0, 2] and not mask[1, 1] and mask[0, 3] and mask[2, 1]
    loss = obj.loss(s, mask)
    # row 0: positive (col 0) vs item 2 only -> CE over [s00, s02]
    r0 = F.cross_entropy(torch.stack([s[0, 0], s[0, 3]])[None], torch.tensor([0]))
    r1 = F.cross_entropy(torch.stack([s[1, 0], s[1, 3]])[None], torch.tensor([0]))
    r2 = F.cross_entropy(torch.stack([s[2, 0], s[2, 1], s[2, 2]])[None], torch.tensor([0]))
    assert float(loss) == pytest.approx(float((r0 + r1 + r2) / 3), abs=1e-6)


def test_bpr_and_bce_hand_case():
    u = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    items = torch.tensor([1, 2])
    for kind in ("bpr", "bce"):
        obj = objective(loss=kind)
        v = obj.model.item_vectors(items, None)
        s, mask = obj.logits(u, v, items, None)
        loss = float(obj.loss(s, mask))
        raw = (u @ v.T).numpy()  # [[0, 0], [0, 1]]: positives on the diagonal, one negative per row
        sig = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
        if kind == "bpr":
            expect = -np.mean([np.log(sig(raw[0, 0] - raw[0, 1])), np.log(sig(raw[1, 1] - raw[1, 0]))])
        else:
            pos = -np.mean(np.log(sig(np.diag(raw))))
            neg = -np.mean([np.log(1 - sig(raw[0, 1])), np.log(1 - sig(raw[1, 0]))])
            expect = pos + neg
        assert loss == pytest.approx(expect, abs=1e-6), kind


def test_monitor_must_be_a_retrieval_metric():
    check_monitor("scenarios.*.ndcg@20", [10, 20, 50])
    check_monitor("recall@50+hr@10", [10, 20, 50])
    with pytest.raises(ConfigError, match="train.monitor"):
        check_monitor("auc", [10, 20, 50])
    with pytest.raises(ConfigError, match="train.monitor"):
        check_monitor("ndcg@30", [10, 20, 50])


def test_accidental_hits_among_sampled_negatives_are_masked():
    obj = objective(logq=True, num_negatives=3)
    u = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    items = torch.tensor([1, 2])
    v = obj.model.item_vectors(items, None)
    neg_items = torch.tensor([1, 3, 2])
    v_neg = obj.model.item_vectors(neg_items, None)[None].expand(2, 3, 2)
    _, mask = obj.logits(u, v, items, v_neg, neg_items)
    assert mask[:, 3:].tolist() == [[False, True, True], [True, True, False]]
