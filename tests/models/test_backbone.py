"""The multi-scenario backbone protocol: the six backbones implement it, USR wraps any model that does
(including one registered after USR), and an unknown or non-conforming backbone fails when USR is built."""

import pytest
import torch
from pydantic import ValidationError
from torch import Tensor, nn

from synth import random_batch, tiny_schema
from unisr.models.backbone import BackboneInput, ScenarioBackbone, backbone_names, build_backbone
from unisr.models.registry import MODELS, ModelConfig, build_model, register_model
from unisr.nn.routing import ScenarioGroups

SIX = ["apg", "m2m", "mmoe", "ple", "shared_bottom", "star"]


def test_the_six_backbones_implement_the_protocol_and_others_do_not():
    names = backbone_names()
    assert set(SIX) <= set(names)
    for name in ("dnn", "usr", "nfm", "srjgraph", "treems"):
        assert name not in names
    for name in SIX:
        m = build_backbone(name, {}, BackboneInput(in_dim=20, num_scenarios=3, token_dim=8))
        assert isinstance(m, ScenarioBackbone) and getattr(m, "embedding", None) is None
        out = m.forward_input(torch.randn(7, 20), torch.tensor([0, 1, 2, 0, 1, 2, 0]))
        assert out.shape == (7,) and torch.isfinite(out).all()


def test_apg_as_backbone_supports_the_scenario_condition_only():
    with pytest.raises(ValueError, match="condition 'scenario' only"):
        build_backbone("apg", {"condition": "scenario_user"}, BackboneInput(20, 3, 8))


class BiasConfig(ModelConfig):
    hidden: int = 4


class ScenarioBias(nn.Module):
    """A backbone defined outside the package: an MLP plus a learned bias per scenario.

    Shapes:
        forward_input: x [B, in_dim], scenario_id [B] -> [B]
    """

    def __init__(self, in_dim: int, num_scenarios: int, hidden: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, 1))
        self.bias = nn.Parameter(torch.zeros(num_scenarios))

    @classmethod
    def as_backbone(cls, cfg: BiasConfig, inp: BackboneInput) -> "ScenarioBias":
        return cls(inp.in_dim, inp.num_scenarios, cfg.hidden)

    def forward_input(self, x: Tensor, scenario_id: Tensor) -> Tensor:
        return ScenarioGroups(scenario_id).apply(x, lambda s, xs: self.net(xs) + self.bias[s]).squeeze(1)


def test_usr_wraps_a_backbone_registered_later():
    register_model("a1_scenario_bias", config=BiasConfig, paper="test")(ScenarioBias)
    try:
        torch.manual_seed(0)
        m = build_model("usr", {"dim": 8, "sparse_grad": False, "backbone": "a1_scenario_bias",
                                "backbone_params": {"hidden": 5}}, tiny_schema())
        assert isinstance(m.aux["click"], ScenarioBias) and m.aux["ctcvr"].net[0].out_features == 5
        assert m.aux["click"].net[0].in_features == m.vsr_dim
        b = random_batch(tiny_schema(), 32)
        out = m(b)
        out["global_click"].sum().backward()
        assert float(m.aux["click"].bias.grad.abs().sum()) > 0
    finally:
        MODELS.pop("a1_scenario_bias", None)


@pytest.mark.parametrize(("backbone", "params", "message"), [
    ("nope", {}, "unknown backbone model 'nope'"),
    ("dnn", {}, "model 'dnn' \\(DNN\\) is not a multi-scenario backbone.*ScenarioBackbone"),
    ("star", {"no_such_key": 1}, "no_such_key"),
])
def test_unknown_or_nonconforming_backbone_fails_when_usr_is_built(backbone, params, message):
    with pytest.raises(ValidationError, match=message):
        build_model("usr", {"dim": 8, "backbone": backbone, "backbone_params": params}, tiny_schema())
