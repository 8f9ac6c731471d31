"""Model registry: ``@register_model`` declares a model's name, task, paper, config class and data needs.

Models are discovered by scanning the ``unisr.models`` package (``load_models``): a new model is one file with a
``@register_model`` class, no list to edit. Model files import this module (and the other declared interfaces,
``models/backbone.py``, ``models/graph_configs.py``), never one another (``tests/test_imports.py``).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from unisr.data.features import FeatureSchema
from unisr.nn.match import MatchSpec


class ModelConfig(BaseModel):
    """Base of every model's hyper-parameters (each model subclasses it with its own typed fields)."""

    model_config = ConfigDict(extra="forbid")


class RankerConfig(ModelConfig):
    """Hyper-parameters every embedding-based ranker shares."""

    # sparse gradients + a sparse optimizer for the embedding tables; None = decide by table size with the one
    # rule ``nn/embedding.py:sparse_gradients`` (sparse from ``SPARSE_AUTO_ROWS`` rows on)
    sparse_grad: bool | None = None


class MatchRankerConfig(RankerConfig):
    """A ranker that can also take the query-item match features."""

    # the query-item match features of nn/match.py (K-NRM term kernels, category levels, vector cosines) as
    # extra inputs; False = the inputs the model's paper describes (each model's doc says which it reads)
    match: bool = False
    # with ``match``: also each of the query's first N terms' kernels apart, in query order (a product word first,
    # attribute words after it; nn/match.py:by_position); 0 = only the pooled kernels (measured: docs/models/inputs.md)
    match_positions: int = Field(3, ge=0, le=16)
    # with ``match``: per same-space vector pair (trigger / visual query vs candidate) also the raw vectors' cosine
    match_raw_cosine: bool = True

    def match_spec(self) -> MatchSpec | None:
        """The match features this config asks for (nn/match.py), None without ``match``."""
        return MatchSpec(self.match_positions, self.match_raw_cosine) if self.match else None


class FieldRankerConfig(MatchRankerConfig):
    """A ranker whose input layer is ``nn/embedding.py:FeatureEmbedding`` (directly or in ``nn/fields.py:FieldStack``)."""

    # DropoutNet (Volkovs et al., NeurIPS'17; ``FeatureEmbedding(id_dropout=...)``): in training each sample's
    # user_id / item_id field is set to the OOV row with this probability, so the model also learns to score from
    # content and history counters; 0 = off, as in every paper of these models (measured: docs/models/inputs.md)
    id_dropout: float = Field(0.0, ge=0.0, lt=1.0)


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


# model config keys added after runs and records were written, with the value those were trained with: a written
# config.yaml or record key without one is an older run, not today's default (pipeline/run_folder.read_config,
# bench/records.effective). The sharing models' pair features (issue 33: directed since), the match features'
# optional parts (issue 31; they mean something only with ``match``: MATCH_PARTS)
ADDED_LATER: dict[str, Any] = {"pair_mode": "symmetric", "match_positions": 0, "match_raw_cosine": False}
MATCH_PARTS = ("match_positions", "match_raw_cosine")


def added_later(name: str | None) -> tuple[str, ...]:
    """The :data:`ADDED_LATER` keys the model's config class has; () for an unknown model."""
    try:
        info = get_model_info(str(name))
    except KeyError:
        return ()
    return tuple(k for k in ADDED_LATER if k in info.config.model_fields)


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


def load_models(package: str = "unisr.models") -> list[str]:
    """Import every module of ``package`` so that their ``@register_model`` decorators run; returns their names.

    The rule: every module directly in the package (``pkgutil.iter_modules``; a sub-package counts as its
    ``__init__``) except private ones (a name starting with ``_``). Modules without a ``@register_model`` (the
    declared interfaces, this registry) are imported too and register nothing. Adding a model = adding its
    file; no list to edit.
    """
    pkg = importlib.import_module(package)
    names = []
    for mod in pkgutil.iter_modules(pkg.__path__, prefix=f"{package}."):
        if mod.name.rsplit(".", 1)[-1].startswith("_"):
            continue
        importlib.import_module(mod.name)
        names.append(mod.name)
    return names


_LOADED: set[str] = set()


def load_builtin_models() -> None:
    """Discover the models of ``unisr.models`` (once per process; see ``load_models`` for the rule)."""
    if "unisr.models" not in _LOADED:
        load_models("unisr.models")
        _LOADED.add("unisr.models")
