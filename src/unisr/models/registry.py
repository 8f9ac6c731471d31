"""Model registry: ``@register_model`` declares a model's name, task, paper, config class and data needs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from torch import nn

from unisr.data.features import FeatureSchema


class ModelConfig(BaseModel):
    """Base of every model's hyper-parameters (each model subclasses it with its own typed fields)."""

    model_config = ConfigDict(extra="forbid")


class RankerConfig(ModelConfig):
    """Hyper-parameters every embedding-based ranker shares."""

    # sparse gradients + a sparse optimizer for the embedding tables; None = decide by table size
    # (sparse from ``SPARSE_AUTO_ROWS`` rows on: below it dense Adam is faster and converges faster)
    sparse_grad: bool | None = None


@dataclass(frozen=True)
class ModelInfo:
    name: str
    cls: type[nn.Module]
    config: type[ModelConfig]
    task: Literal["ranking", "matching"]
    paper: str
    needs: tuple[str, ...]
    description: str
    tasks: tuple[str, ...] = ("click",)
    defaults: dict[str, Any] = field(default_factory=dict)  # recommended train/data settings

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "task": self.task, "paper": self.paper, "needs": list(self.needs),
                "predicts": list(self.tasks), "description": self.description}


MODELS: dict[str, ModelInfo] = {}


def register_model(name: str, *, config: type[ModelConfig], task: Literal["ranking", "matching"] = "ranking",
                   paper: str = "", needs: tuple[str, ...] = ("sparse", "dense", "scenario"),
                   tasks: tuple[str, ...] = ("click",), defaults: dict[str, Any] | None = None
                   ) -> Callable[[type[nn.Module]], type[nn.Module]]:
    def deco(cls: type[nn.Module]) -> type[nn.Module]:
        if name in MODELS:
            raise ValueError(f"model {name!r} registered twice")
        doc = (cls.__doc__ or "").strip().splitlines()
        MODELS[name] = ModelInfo(name, cls, config, task, paper, needs, doc[0] if doc else "", tasks,
                                 defaults or {})
        return cls

    return deco


def get_model_info(name: str) -> ModelInfo:
    load_builtin_models()
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))}")
    return MODELS[name]


def build_model(name: str, params: dict[str, Any], schema: FeatureSchema) -> nn.Module:
    """Validate ``params`` against the model's config class and build it (no training data needed)."""
    info = get_model_info(name)
    cfg = info.config.model_validate(params)
    return info.cls.from_config(schema, cfg)


def load_builtin_models() -> None:
    """Import the model modules so that their decorators run."""
    import unisr.models.aem_din  # noqa: F401
    import unisr.models.cune  # noqa: F401
    import unisr.models.diffnet  # noqa: F401
    import unisr.models.gat_ctr  # noqa: F401
    import unisr.models.hgt_ctr  # noqa: F401
    import unisr.models.lightgcn_ctr  # noqa: F401
    import unisr.models.multi_scenario  # noqa: F401
    import unisr.models.nfm  # noqa: F401
    import unisr.models.ngcf_ctr  # noqa: F401
    import unisr.models.pinsage  # noqa: F401
    import unisr.models.scenario_meta  # noqa: F401
    import unisr.models.share_dnn  # noqa: F401
    import unisr.models.share_mmoe  # noqa: F401
    import unisr.models.social_gat  # noqa: F401
    import unisr.models.tem  # noqa: F401
    import unisr.models.treems  # noqa: F401
    import unisr.models.usr  # noqa: F401
    import unisr.models.xdeepfm  # noqa: F401
    from unisr.models import apg, dnn, m2m, mmoe, ple, shared_bottom, srjgraph, star  # noqa: F401
