"""BOMGraph's disentangled representation (nn/disentangle.py) against hand computations."""

from __future__ import annotations

import math

import pytest
import torch

from unisr.nn.disentangle import Disentangle, ca_loss, ct_loss, disentangle_loss, rd_loss


def test_rd_loss_hand_case() -> None:
    # one item, M = 2 orthogonal counterparts, tau = 1: each row's logits are (1, 0) with its own in front
    f = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    want = 2 * -math.log(math.e / (math.e + 1.0))
    assert rd_loss(f, 1.0).item() == pytest.approx(want, rel=1e-6)
    # identical counterparts cannot be told apart: -log(1/2) each
    same = torch.tensor([[[1.0, 0.0], [1.0, 0.0]]])
    assert rd_loss(same, 0.5).item() == pytest.approx(2 * math.log(2.0), rel=1e-6)
    # the batch mean: two copies of the item give the same value
    assert rd_loss(torch.cat([f, f]), 1.0).item() == pytest.approx(want, rel=1e-6)


def test_ct_loss_hand_case() -> None:
    # B = 2, M = 2 (one counterpart compared), F = 2
    f = torch.tensor([[[1.0, 0.0], [9.0, 9.0]], [[0.0, 1.0], [9.0, 9.0]]])
    z = torch.tensor([[1.0, 1.0], [0.0, 0.0]])
    cf = torch.tensor([[0.5, 0.0], [0.0, 0.5]])  # f^1 columns' products / B
    cz = torch.tensor([[0.5, 0.5], [0.5, 0.5]])
    want = ((cf - cz) ** 2).sum().item() / 1 / 4
    assert ct_loss(f, z).item() == pytest.approx(want, rel=1e-6)
    assert ct_loss(f, z).item() == pytest.approx(0.125)
    zero = ct_loss(f, torch.tensor([[1.0, 0.0], [0.0, 1.0]]))  # z with f^1's second moments
    assert zero.item() == pytest.approx(0.0, abs=1e-7)


def test_ca_loss_hand_case() -> None:
    i = torch.tensor([[1.0, 0.0], [3.0, 2.0]])  # centroid (2, 1)
    ib = torch.tensor([[0.0, 0.0], [2.0, 2.0]])  # centroid (1, 1)
    assert ca_loss(i, ib).item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="one space"):
        ca_loss(i, torch.zeros(2, 3))


def test_module_shapes_normalised_and_refined_sum() -> None:
    torch.manual_seed(0)
    d = Disentangle(8, 4, m=3)
    i = torch.randn(5, 8)
    ib, f, z = d(i)
    assert ib.shape == (5, 4) and f.shape == (5, 3, 4) and z.shape == (5, 4)
    assert torch.allclose(f.norm(dim=-1), torch.ones(5, 3), atol=1e-5)
    assert torch.allclose(z, d.transfer(f[:, 2]))
    assert torch.allclose(ib, f[:, 0] + f[:, 1] + z)
    with pytest.raises(ValueError, match="at least 2"):
        Disentangle(8, 4, m=1)


def test_steps_switch_parts_and_weights() -> None:
    torch.manual_seed(1)
    d = Disentangle(4, 4, m=3)
    i = torch.randn(6, 4)
    ib, f, z = d(i)
    total, parts = disentangle_loss(i, ib, f, z, 0.5)
    want = 0.5 * rd_loss(f, 0.5) + 0.7 * ct_loss(f, z) + 0.2 * ca_loss(i, ib)
    assert total.item() == pytest.approx(want.item(), rel=1e-6)
    assert set(parts) == {"loss_rd", "loss_ct", "loss_ca"}
    rd_only, parts = disentangle_loss(i, ib, f, z, 0.5, steps=(True, False, False))
    assert set(parts) == {"loss_rd"} and rd_only.item() == pytest.approx(0.5 * rd_loss(f, 0.5).item(), rel=1e-6)
    total.backward()
    assert d.spaces.weight.grad is not None and d.transfer.weight.grad is not None
