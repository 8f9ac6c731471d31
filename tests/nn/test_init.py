"""He initialisation of ReLU stacks (``unisr.nn.init``)."""

from __future__ import annotations

import math

import torch
from torch import nn

from unisr.nn.init import he_init_
from unisr.nn.mlp import MLP


def _stack_out_std(init: str, depth: int = 7, width: int = 64) -> float:
    torch.manual_seed(0)
    net = MLP(width, [width] * depth)
    if init == "he":
        he_init_(net)
    x = torch.randn(4096, width)
    return float(net(x).pow(2).mean().sqrt())


def test_he_weights_have_the_he_scale_and_zero_bias():
    torch.manual_seed(0)
    lin = he_init_(nn.Linear(400, 300))
    assert abs(float(lin.weight.std()) - math.sqrt(2 / 400)) < 0.002
    assert torch.count_nonzero(lin.bias) == 0


def test_he_keeps_the_signal_through_a_deep_relu_stack_where_the_default_shrinks_it():
    he, default = _stack_out_std("he"), _stack_out_std("torch")
    assert 0.5 < he < 2.0  # second moment kept (input rms 1)
    assert default < 0.1  # weights pass ~1/6 of the second moment per layer; the biases keep a floor (0.059)
    assert he > 10 * default


def test_a_module_with_its_own_he_init_hook_is_not_recursed_into():
    class Bank(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.ones(3, 4, 5))
            self.inner = nn.Linear(4, 5)
            self.called = 0

        def he_init_(self) -> None:
            self.called += 1
            self.w.data.zero_()

    outer = nn.Sequential(nn.Linear(2, 2), Bank())
    before = outer[1].inner.weight.clone()
    he_init_(outer)
    assert outer[1].called == 1 and torch.count_nonzero(outer[1].w) == 0
    assert torch.equal(outer[1].inner.weight, before)  # the hook owns the submodule
