"""The multi-scenario backbone protocol: a registered model that can also run as the core of another model on a
prepared input vector (USR's ``ŷ_g = MSM(V_S&R)``, eq. 12).

A backbone takes what ``BackboneInput`` describes (the width of the prepared input, the number of scenarios,
the size of one token of it) and its own validated config; built with ``as_backbone`` it has no embedding
layer and ``forward_input(x, scenario_id)`` gives one logit per sample, every scenario-specific part routed
to its scenario's samples only. A model implements the protocol by defining the two methods; nothing needs
registering. ``build_backbone`` builds any registered model that implements it, and fails with the model's
name when the model is unknown or does not implement it.

Shapes:
    forward_input: x [B, in_dim] float, scenario_id [B] long -> [B] logits
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from torch import Tensor, nn

from unisr.models.registry import MODELS, ModelConfig, get_model_info, load_builtin_models


@dataclass(frozen=True)
class BackboneInput:
    """What a backbone is built for: ``in_dim`` wide inputs of ``num_scenarios`` scenarios; ``token_dim`` is the
    size of one embedded token of the input (backbones that attend over tokens read x as ``in_dim / token_dim``
    of them, zero-padded)."""

    in_dim: int
    num_scenarios: int
    token_dim: int


@runtime_checkable
class ScenarioBackbone(Protocol):
    """A multi-scenario model usable as the core of another model (see the module docstring)."""

    @classmethod
    def as_backbone(cls, cfg: Any, inp: BackboneInput) -> ScenarioBackbone:
        """The model without its embedding layer, for prepared inputs ``inp`` (``cfg``: its own config class)."""
        ...

    def forward_input(self, x: Tensor, scenario_id: Tensor) -> Tensor:
        """Logits [B] of a prepared input x [B, in_dim] of the scenarios ``scenario_id`` [B]."""
        ...


def backbone_names() -> list[str]:
    """Every registered model that implements ``ScenarioBackbone``."""
    load_builtin_models()
    return sorted(n for n, info in MODELS.items() if issubclass(info.cls, ScenarioBackbone))


def backbone_config(name: str, params: dict[str, Any]) -> ModelConfig:
    """``params`` validated against the config class of backbone ``name``; errors name the model."""
    try:
        info = get_model_info(name)
    except KeyError as e:
        raise ValueError(f"unknown backbone model {name!r}; backbones: {', '.join(backbone_names())}") from e
    if not issubclass(info.cls, ScenarioBackbone):
        raise ValueError(f"model {name!r} ({info.cls.__name__}) is not a multi-scenario backbone: it does not "
                         f"implement unisr.models.backbone.ScenarioBackbone (as_backbone + forward_input); "
                         f"backbones: {', '.join(backbone_names())}")
    return info.config.model_validate(params)


def build_backbone(name: str, params: dict[str, Any], inp: BackboneInput) -> nn.Module:
    """The registered model ``name`` as a backbone on prepared inputs (``params``: its own config keys)."""
    cfg = backbone_config(name, params)
    return MODELS[name].cls.as_backbone(cfg, inp)
