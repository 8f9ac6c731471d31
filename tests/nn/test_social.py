"""``nn/social.py``: the initialisation rule every sharing model applies to its ReLU stacks on x, the typed
social sample the sharing models read, and the sampler spec each declares from its config."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from share_synth import build
from unisr.models.graph_configs import ShareConfig
from unisr.models.registry import MODELS, load_builtin_models
from unisr.nn.social import RELU_STACKS, init_relu_stacks

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


@pytest.mark.parametrize("name", SHARE_MODELS)
def test_sampler_spec_comes_from_the_config(name: str):
    from unisr.graph.hooks import SocialSpec

    info = MODELS[name]
    cfg = info.config.model_validate({"views": ["pay"], "fanouts": [4, 2]})
    assert info.cls.sampler_spec(cfg) == SocialSpec(("pay",), (4, 2))
    assert info.cls.sampler_spec(info.config()) == SocialSpec(("friend", "pay", "share"), (10,))


def test_pair_history_follows_the_views_asked_for():
    from share_synth import VIEWS, share_batch, share_schema

    sub = share_batch(share_schema(), 4).subgraph
    assert sub.pair_history(list(VIEWS)) is None  # no exact history: the models read the sample instead
    sub.pair = torch.arange(12.0).view(4, 3)
    assert sub.pair_history(list(VIEWS)) is sub.pair
    assert torch.equal(sub.pair_history(["share", "friend"]), sub.pair[:, [2, 0]])
    with pytest.raises(ValueError, match="no social view 'enemy'"):
        sub.neighbourhood("enemy", "src")
