"""Layered run configuration: defaults -> model -> dataset -> file -> ``--set key=value``.

Each layer is a nested dict merged over the previous one; the result is validated once by Pydantic, and
the model section once more by the model's own config class. Each component then receives only its own
sub-config (the loader a ``LoaderConfig``, the trainer a ``TrainConfig``, the model its ``ModelConfig``).
Values given with ``--set`` are parsed as YAML scalars/lists (never ``eval``). Values are checked where they
are declared (``epochs >= 1``, ``batch_size >= 1``, ...): a bad one is a ``ConfigError`` naming the key.

Shapes:
    (no tensors) resolve_config(model, ...) -> RunConfig
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from unisr.data.inputs import InputsConfig
from unisr.data.loader import LoaderConfig
from unisr.models.registry import get_model_info


class ConfigError(ValueError):
    """A config value or key is wrong; the message names the key."""


class LRStep(BaseModel):
    model_config = ConfigDict(extra="forbid")
    step_size: int = 2
    gamma: float = 0.85


# --- matching (two-tower) keys: train.matching.* (issue 35; read by train/matching.py, index/, evaluate/retrieval.py)
class IndexConfig(BaseModel):
    """The FAISS index of ``RUN/item_index/`` (``unisr.index``): exact inner product, HNSW, IVF-Flat or IVF-PQ."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["exact", "hnsw", "ivf", "ivfpq"] = "hnsw"
    hnsw_m: int = Field(32, ge=2)
    ef_construction: int = Field(128, ge=1)
    ef_search: int = Field(128, ge=1)
    nlist: int = Field(1024, ge=1)  # capped at corpus/39 (FAISS' minimum training points per list)
    nprobe: int = Field(16, ge=1)
    pq_m: int = Field(8, ge=1)  # sub-quantizers; must divide the vector dimension
    pq_bits: int = Field(8, ge=1, le=16)


class MatchingConfig(BaseModel):
    """Two-tower training and retrieval evaluation (train/matching.py, evaluate/retrieval.py)."""

    model_config = ConfigDict(extra="forbid")
    loss: Literal["softmax", "bce", "bpr"] = "softmax"  # list-, point-, pair-wise over the sampled candidates
    logq: bool = True  # subtract log(expected sampled count) from softmax logits (Yi et al., RecSys'19)
    num_negatives: int = Field(0, ge=0)  # extra sampled negatives (per batch if shared, per row otherwise)
    # how the extra negatives are drawn (train/matching.py:MatchingObjective): "shared" = num_negatives uniform
    # items shared by the batch's rows, beside the in-batch items; "per_row" = num_negatives uniform items per
    # positive row and no in-batch columns (RecBole's pairwise sampler: each row its own negative, items the
    # user clicked in training redrawn); "dns" = per row, the highest-scored of ``dns_candidates`` uniform draws
    # (dynamic hard negatives, Zhang et al. SIGIR'13; RecBole's ``dynamic`` sampling)
    negatives: Literal["shared", "per_row", "dns"] = "shared"
    dns_candidates: int = Field(8, ge=1)
    # L2 on the batch's embeddings (RecBole's EmbLoss with require_pow: sum of squares / (2 B)); the model's
    # ``reg_vectors`` (LightGCN: the layer-0 embeddings) or else the scored vectors
    reg_weight: float = Field(0.0, ge=0, allow_inf_nan=False)
    temperature: float = Field(0.05, gt=0, allow_inf_nan=False)
    ks: list[int] = Field(default_factory=lambda: [10, 20, 50, 100, 200])
    exclude: Literal["user", "user_scenario", "none"] = "user_scenario"  # earlier splits' clicks not ranked
    eval_users_per_batch: int = Field(1024, ge=1)  # user vectors per FAISS search call
    index: IndexConfig = Field(default_factory=IndexConfig)
    # the retrieval ceilings beside the test figures on simulated data (evaluate/retrieval_oracle.py): "click" =
    # ranked by the true position-free P(click); "expected" = by E[clicks] over the simulator's own retrieval and
    # ranker (``oracle_draws`` Monte Carlo draws per request); "both"; "none". Real data has no truth: skipped.
    oracle: Literal["none", "click", "expected", "both"] = "both"
    oracle_draws: int = Field(64, ge=1)

    @field_validator("ks")
    @classmethod
    def _ks(cls, v: list[int]) -> list[int]:
        if not v or any(k < 1 for k in v):
            raise ValueError(f"must be a non-empty list of K >= 1, got {v}")
        return sorted(set(v))


class TrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    epochs: int = Field(20, ge=1)
    optimizer: Literal["adam", "adamw", "adagrad", "sgd"] = "adam"
    # Adagrad's initial accumulator: TensorFlow's default 0.1 (the papers that use Adagrad ran TF); torch's 0
    # makes the first step lr * sign(g) for every weight, which diverges at the papers' learning rates
    adagrad_init: float = 0.1
    lr: float = Field(1e-3, gt=0, allow_inf_nan=False)
    weight_decay: float = Field(0.0, ge=0, allow_inf_nan=False)
    # optimizer of sparse embedding gradients: auto = SparseAdam for adam/adamw, Adagrad for adagrad, SGD for sgd
    sparse_optimizer: Literal["auto", "sparse_adam", "adagrad", "sgd"] = "auto"
    sparse_lr: float | None = None
    # how the dense optimizer steps: auto = torch's fused kernel (one pass over every parameter) where torch has
    # one for the parameters' device and dtype, else its default; foreach / for_loop force those (train/optim.py)
    optimizer_impl: Literal["auto", "fused", "foreach", "for_loop"] = "auto"
    clip_norm: float | None = None
    lr_step: LRStep | None = None
    patience: int = Field(4, ge=0)
    # a key of the validation overall metrics, "scenarios.<name>.<metric>", "scenarios.*.<metric>" (mean over
    # scenarios), or "a+b" (mean); see trainer.lookup_metric
    monitor: str = "auc"
    mode: Literal["max", "min"] = "max"
    losses: dict[str, float] = Field(default_factory=lambda: {"click": 1.0})
    seed: int = 0
    threads: int | None = None
    max_steps_per_epoch: int | None = Field(None, ge=1)
    progress: bool = True
    checkpoint_every: int = Field(1, ge=0)  # epochs between resumable checkpoints (0 = never)
    # data-parallel runs (torchrun): let DDP find the parameters a step did not use (scenario-routed towers and
    # experts a rank's batch did not reach); False is faster for models that use every parameter every step
    # and fails loudly otherwise (measured in docs/DISTRIBUTED.md)
    ddp_find_unused: bool = True
    # training-only position bias (nn/position.py) on the click logit: auto = on where the events have positions;
    # evaluation and serving always use the model's position-free score (issue 31: on by default with the
    # version-2 inputs; records key it, bench/records.inputs_of; the runs before it trained without: "off")
    position_bias: Literal["auto", "on", "off"] = "auto"
    matching: MatchingConfig = Field(default_factory=MatchingConfig)  # models of task "matching" only

    @field_validator("position_bias", mode="before")
    @classmethod
    def _on_off(cls, v: Any) -> Any:
        """``--set train.position_bias=off`` parses as YAML false (and ``on`` as true): read them as the words."""
        return {True: "on", False: "off"}.get(v, v) if isinstance(v, bool) else v


class DataConfig(LoaderConfig):
    embed_dim: int = 16
    embed_dims: dict[str, int] = Field(default_factory=dict)  # per field name, e.g. {"user.gender": 4}
    graph_dir: str | None = None  # where the dataset's graph is cached (default: DATA/graph)
    # which inputs the encoder gives every model (unisr.data.inputs): version 2 (shared term / category tables,
    # the query's category, the trigger item's content, item vectors, item age) or 1 (before issue 31)
    inputs: InputsConfig = Field(default_factory=InputsConfig)
    # rows the data gate cannot use (unisr.data.gate): "reject" trains without them (RUN/rejected.parquet,
    # counted in metrics.json ``rows``); "fail" stops the run with exit 2 naming the first one
    on_bad_rows: Literal["reject", "fail"] = "reject"

    @field_validator("batch_size", "eval_batch_size", "buffer_rows", "cache_max_rows", "query_max_len",
                     "embed_dim")
    @classmethod
    def _at_least_one(cls, v: int) -> int:
        if v < 1:
            raise ValueError(f"must be >= 1, got {v}")
        return v

    @field_validator("history_len")
    @classmethod
    def _not_negative(cls, v: int) -> int:
        if v < 0:
            raise ValueError(f"must be >= 0, got {v}")
        return v


class RunConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: dict[str, Any]
    data: DataConfig = Field(default_factory=DataConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    dataset: str = ""
    data_path: str = ""

    @property
    def model_name(self) -> str:
        return self.model["name"]

    @property
    def model_params(self) -> dict[str, Any]:
        return {k: v for k, v in self.model.items() if k != "name"}


def deep_merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def parse_set(items: list[str]) -> dict:
    """``["train.lr=0.01", "model.fcn=[64,32]"]`` -> nested dict. Values are YAML-parsed."""
    out: dict = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected key=value")
        key, raw = item.split("=", 1)
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError as e:
            raise ConfigError(f"--set {key}: cannot parse value {raw!r}: {e}") from e
        node = out
        parts = key.strip().split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return out


def _format_validation(e: ValidationError, prefix: str = "") -> str:
    msgs = []
    for err in e.errors():
        loc = ".".join(str(x) for x in (prefix, *err["loc"]) if x != "")
        msgs.append(f"config key {loc}: {err['msg']}")
    return "; ".join(msgs)


def resolve_config(model: str, *, dataset_defaults: dict | None = None, file: str | Path | None = None,
                   sets: list[str] | None = None) -> RunConfig:
    """Build the fully resolved ``RunConfig`` from the five layers."""
    try:
        info = get_model_info(model)
    except KeyError as e:
        raise ConfigError(str(e.args[0])) from e
    layers: list[dict] = [RunConfig(model={"name": model}).model_dump()]
    layers.append(info.defaults)
    dd = dataset_defaults or {}
    layers.append({k: v for k, v in dd.items() if k != "models"})
    layers.append((dd.get("models") or {}).get(model, {}))
    if file is not None:
        try:
            with open(file) as f:
                layers.append(yaml.safe_load(f) or {})
        except OSError as e:
            raise ConfigError(f"--config {file}: {e.strerror}") from e
        except yaml.YAMLError as e:
            raise ConfigError(f"--config {file}: not valid YAML: {e}") from e
    layers.append(parse_set(sets or []))
    merged: dict = {}
    for layer in layers:
        merged = deep_merge(merged, layer)
    merged.setdefault("model", {})["name"] = merged.get("model", {}).get("name", model)
    if merged["model"]["name"] != model:
        raise ConfigError(f"config key model.name: {merged['model']['name']!r} conflicts with --model {model!r}")
    try:
        cfg = RunConfig.model_validate(merged)
    except ValidationError as e:
        raise ConfigError(_format_validation(e)) from e
    try:
        params = info.config.model_validate(cfg.model_params)
    except ValidationError as e:
        raise ConfigError(_format_validation(e, "model")) from e
    cfg.model = {"name": model, **params.model_dump()}
    return cfg
