"""BOMGraph's eq. 13 / eq. 14 losses and in-category negatives (train/contrastive.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from unisr.train.contrastive import CategoryNegatives, dropout_contrastive, infonce


def test_infonce_hand_case() -> None:
    x = torch.tensor([[1.0, 0.0]])
    pos = torch.tensor([[2.0, 0.0]])  # cosine 1
    neg = torch.tensor([[[0.0, 3.0], [-1.0, 0.0]]])  # cosines 0 and -1
    tau = 0.5
    want = -math.log(math.exp(2) / (math.exp(2) + math.exp(0) + math.exp(-2)))
    assert infonce(x, pos, neg, tau).item() == pytest.approx(want, rel=1e-6)


def test_dropout_positive_and_keep_one() -> None:
    items = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    tau = 1.0
    # keep = 1: the positive is the item itself (cosine 1); the negatives are the other two items
    a = torch.nn.functional.normalize(items, dim=-1)
    sims = a @ a.T
    want = np.mean([-math.log(math.exp(1) / (math.exp(1) + sum(math.exp(float(sims[r, c]))
                                                                 for c in range(3) if c != r))) for r in range(3)])
    assert dropout_contrastive(items, 1.0, tau).item() == pytest.approx(want, rel=1e-6)
    # keep < 1: the positive differs from the anchor (loss changes) and is reproducible under a generator
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    big = torch.randn(64, 16, generator=torch.Generator().manual_seed(0))
    l1, l2 = dropout_contrastive(big, 0.7, 0.5, g1), dropout_contrastive(big, 0.7, 0.5, g2)
    assert l1.item() == pytest.approx(l2.item())
    assert l1.item() != pytest.approx(dropout_contrastive(big, 1.0, 0.5).item())
    with pytest.raises(ValueError, match="keep probability"):
        dropout_contrastive(big, 0.0, 0.5)


def test_category_negatives_stay_in_category_and_skip_the_positive() -> None:
    cat = np.array([-1, 0, 0, 1, 1, 1, 2, 0, 1, 3])  # entity 0 = OOV; category 3 has one item
    neg = CategoryNegatives(cat)
    g = torch.Generator().manual_seed(0)
    pos = torch.tensor([1, 2, 3, 4, 5, 6, 7, 8, 9] * 50)
    out = neg.draw(pos, 6, g).numpy()
    p = pos.numpy()[:, None]
    assert (cat[out] == cat[p]).all()
    multi = np.isin(cat[p[:, 0]], [0, 1])
    assert (out[multi] != p[multi]).all()  # never the positive while the category has another item
    assert (out > 0).all()  # never the OOV row
    # every other item of category 1 is drawn for positive 4
    assert set(out[p[:, 0] == 4].ravel()) == {3, 5, 8}
