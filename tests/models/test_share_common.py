"""``share_common``: the initialisation rule every sharing model applies to its ReLU stacks on x."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from share_synth import build
from unisr.models.registry import MODELS, load_builtin_models
from unisr.models.share_common import RELU_STACKS, ShareConfig, init_relu_stacks

load_builtin_models()
SHARE_MODELS = sorted(n for n, info in MODELS.items() if issubclass(info.config, ShareConfig))


def test_every_sharing_model_is_covered():
    assert len(SHARE_MODELS) >= 9 and "treems" in SHARE_MODELS and "share_dnn" in SHARE_MODELS


def _stack_linears(net: nn.Module) -> list[nn.Linear]:
    out = []
    for name in RELU_STACKS:
        part = getattr(net, name, None)
        if isinstance(part, nn.Module):
            out += [m for m in part.modules() if isinstance(m, nn.Linear)]
    return out


@pytest.mark.parametrize("name", SHARE_MODELS)
def test_he_is_the_default_and_torch_restores_nn_linear_init(name: str):
    he = build(name)
    default = build(name, init="torch")
    lin_he, lin_default = _stack_linears(he), _stack_linears(default)
    assert lin_he, f"{name} has no ReLU stack under {RELU_STACKS}"
    for a, b in zip(lin_he, lin_default, strict=True):
        assert torch.count_nonzero(a.bias) == 0  # He: zero biases
        assert torch.count_nonzero(b.bias) > 0  # nn.Linear's default: uniform biases
        bound = 1 / a.in_features ** 0.5  # nn.Linear's default stays within +-1/sqrt(fan_in)
        assert float(b.weight.abs().max()) <= bound
        if a.weight.numel() >= 256:
            assert abs(float(a.weight.std()) - (2 / a.in_features) ** 0.5) < 0.25 * (2 / a.in_features) ** 0.5


def test_other_parts_keep_their_init_and_unknown_rules_are_refused():
    net = build("share_mmoe", init="torch")
    gates = [g.weight.clone() for g in net.gates]
    init_relu_stacks(net, "he")
    assert all(torch.equal(g.weight, w) for g, w in zip(net.gates, gates, strict=True))  # gates are not stacks
    with pytest.raises(ValueError, match="init"):
        init_relu_stacks(net, "xavier")
