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


def test_infonce_drop_is_leaving_the_negative_out() -> None:
    g = torch.Generator().manual_seed(1)
    x, pos, neg = torch.randn(5, 4, generator=g), torch.randn(5, 4, generator=g), torch.randn(5, 3, 4, generator=g)
    drop = torch.zeros(5, 3, dtype=torch.bool)
    drop[0, 1] = drop[3, 0] = True
    got = infonce(x, pos, neg, 0.3, drop)
    per_row = [infonce(x[r:r + 1], pos[r:r + 1], neg[r:r + 1][:, ~drop[r]], 0.3) for r in range(5)]
    assert got.item() == pytest.approx(torch.stack(per_row).mean().item(), rel=1e-6)
    assert got.item() != pytest.approx(infonce(x, pos, neg, 0.3).item())


def test_shared_draws_per_group_in_category_and_own_positive_dropped() -> None:
    cat = np.array([-1, 0, 0, 0, 1, 1, 1, 1])
    neg = CategoryNegatives(cat)
    pos = torch.tensor([1, 2, 3, 4, 5, 6, 1])
    group = torch.tensor([7, 7, 7, 9, 9, 9, 8])  # rows 0-2 (category 0), rows 3-5 (category 1), row 6 alone
    draws, inv, drop = neg.draw_shared(pos, group, 4, torch.Generator().manual_seed(0))
    assert draws.shape == (3, 4)  # one draw per group, not per row
    rows = draws[inv]  # [B, 4] the negatives each row sees
    assert (rows[0] == rows[1]).all() and (rows[3] == rows[5]).all()
    assert (cat[rows.numpy()] == cat[pos.numpy()][:, None]).all()  # in the row's category
    assert torch.equal(drop, rows == pos[:, None])  # a shared draw that is the row's positive is dropped
    assert not drop[[0, 3, 6]].any()  # the group's first row never draws itself (``draw`` skips it)
    assert drop.any()  # with 3 items per category and 4 draws, another row's positive is drawn
