"""The dense optimizer's implementation switch (``train.optimizer_impl``): fused on CPU by default, the same
updates as torch's per-parameter loop up to float rounding."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from unisr.pipeline.config import TrainConfig
from unisr.train.optim import OptimizerSet, step_options


def _model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 1))


def test_auto_is_fused_on_cpu_and_the_switch_is_honoured():
    ps = list(_model().parameters())
    assert step_options(ps, "auto") == {"fused": True}
    assert step_options(ps, "for_loop") == {"foreach": False}
    assert step_options(ps, "foreach") == {"foreach": True}
    assert step_options([torch.zeros(3, dtype=torch.int64)], "auto") == {}  # no fused kernel: torch's default
    opt = OptimizerSet(_model(), TrainConfig(optimizer="adam", optimizer_impl="auto")).optimizers["dense"]
    assert opt.param_groups[0]["fused"] is True
    opt = OptimizerSet(_model(), TrainConfig(optimizer="adam", optimizer_impl="for_loop")).optimizers["dense"]
    assert not opt.param_groups[0]["fused"] and opt.param_groups[0]["foreach"] is False


@pytest.mark.parametrize("kind", ["adam", "adamw", "adagrad", "sgd"])
def test_fused_steps_match_the_per_parameter_loop(kind: str):
    x, y = torch.randn(64, 12, generator=torch.Generator().manual_seed(1)), torch.rand(64, 1)
    weights = {}
    for impl in ("auto", "for_loop"):
        model = _model()
        opt = OptimizerSet(model, TrainConfig(optimizer=kind, optimizer_impl=impl, lr=1e-2, weight_decay=1e-3))
        for _ in range(30):
            opt.zero_grad()
            nn.functional.binary_cross_entropy_with_logits(model(x), y).backward()
            opt.step()
        weights[impl] = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    assert not torch.equal(weights["auto"], _flat(_model()))  # it trained
    assert torch.allclose(weights["auto"], weights["for_loop"], atol=1e-5, rtol=0)


def _flat(m: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in m.parameters()])


def test_a_fused_step_bumps_the_weights_version_counters():
    """models/lightgcn.py caches its propagation on ``weight._version``: a step must change it (torch's fused
    kernels alone do not)."""
    model = _model()
    opt = OptimizerSet(model, TrainConfig(optimizer="adam", optimizer_impl="fused"))
    before = [p._version for p in model.parameters()]
    opt.zero_grad()
    model(torch.randn(4, 12)).sum().backward()
    opt.step()
    assert all(p._version > v for p, v in zip(model.parameters(), before, strict=True))
