"""Files -> trained, early-stopped, evaluated run folder (CONTRACT.md: config.yaml, model.safetensors,
metrics.json, train_log.jsonl, encoders/, rejected.parquet).

The events pass the data gate first (``unisr.data.gate``): rows that cannot be used go to ``RUN/rejected.parquet``
(``data.on_bad_rows=reject``) or stop the run (``fail``); ``metrics.json`` carries ``rows`` (per split: read,
used, rejected and the reasons; read = used + rejected) and ``rejected`` (rows per reason). ``--resume`` checks
that the recorded config and the checkpoint belong to this run before loading anything.

Under ``torchrun`` (``pipeline.distributed.World``) every rank trains on its shard of the row groups; rank 0
fits the encoders and writes every file of the run folder, the other ranks load the encoders rank 0 saved.

Shapes:
    (no tensors) train_run(model, data, out) -> TrainedRun; evaluate_run(run, data, split) -> metrics dict
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
import yaml

from unisr.data.features import FeatureEncoder
from unisr.data.gate import load_spec, open_gate
from unisr.data.schema import DatasetSpec
from unisr.evaluate.evaluator import evaluate_model, flatten_tasks
from unisr.models.registry import build_model, get_model_info
from unisr.pipeline.config import ConfigError, RunConfig, resolve_config
from unisr.pipeline.distributed import World
from unisr.pipeline.pipeline import Pipeline
from unisr.pipeline.run_folder import check_resume_config, open_run
from unisr.train.objective import Objective, build_position_bias
from unisr.train.trainer import fit_run, run_summary, seed_everything


@dataclass
class TrainedRun:
    out: Path
    config: RunConfig
    metrics: dict
    model: torch.nn.Module
    encoder: FeatureEncoder


def dataset_defaults(spec: DatasetSpec) -> dict:
    extra = spec.model_extra or {}
    return extra.get("defaults") or {}


def _tasks(cfg: RunConfig) -> tuple[str, ...]:
    return tuple(t for t, w in cfg.train.losses.items() if w > 0) or ("click",)


def run_config(model: str, data: str | Path, *, sets: list[str] | None = None, seed: int | None = None,
               config_file: str | Path | None = None, spec: DatasetSpec | None = None) -> RunConfig:
    """The resolved config a run of ``model`` on the canonical dataset ``data`` trains with (the dataset's
    defaults, ``config_file``, ``sets``, then ``seed``); ``spec``: ``data``'s spec if already loaded."""
    data = Path(data)
    spec = spec or load_spec(data)
    sets = [*(sets or []), *([f"train.seed={seed}"] if seed is not None else [])]
    cfg = resolve_config(model, dataset_defaults=dataset_defaults(spec), file=config_file, sets=sets)
    cfg.dataset = spec.name
    cfg.data_path = str(data.resolve())
    return cfg


def train_run(model: str, data: str | Path, out: str | Path, *, config_file: str | Path | None = None,
              sets: list[str] | None = None, seed: int | None = None, resume: bool = False,
              encoder: FeatureEncoder | None = None, encoder_cache: dict | None = None,
              world: World | None = None) -> TrainedRun:
    """Train ``model`` on the canonical dataset ``data`` and write the run folder ``out``.

    ``encoder_cache`` (a dict the caller keeps) reuses fitted encoders across runs of one dataset, keyed by
    the embedding sizes the resolved config asks for. ``world``: this process' rank in a data-parallel job
    (default: read from torchrun's environment; one process without it)."""
    data, out = Path(data), Path(out)
    world = world or World.from_env()
    spec = load_spec(data)
    cfg = run_config(model, data, sets=sets, seed=seed, config_file=config_file, spec=spec)
    if world.distributed and get_model_info(cfg.model_name).task == "matching":
        raise ConfigError(f"model {cfg.model_name!r}: matching models train in one process for now (their "
                          "retrieval evaluation is not gathered across ranks); run without torchrun / --nproc")
    gate = open_gate(data, spec)  # every read of the events below drops the rows it rejects
    gate.enforce(cfg.data.on_bad_rows)
    gate.require(("train", "valid", "test"))
    if resume:
        check_resume_config(out, cfg)
    if world.is_main:
        out.mkdir(parents=True, exist_ok=True)
        gate.write_rejected(out)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    elif world.distributed:
        torch.set_num_threads(world.threads_per_rank())
    seed_everything(cfg.train.seed)

    if world.distributed and not world.is_main:
        world.barrier()  # rank 0 fits and saves the encoders first
        if encoder is None:
            encoder = FeatureEncoder.load(out / "encoders")
    if encoder is None:
        key = (str(data.resolve()), cfg.data.embed_dim, tuple(sorted(cfg.data.embed_dims.items())),
               cfg.data.inputs.model_dump_json())
        if encoder_cache is not None and key in encoder_cache:
            encoder = encoder_cache[key]
        else:
            encoder = FeatureEncoder.fit(data, spec, embed_dim=cfg.data.embed_dim, embed_dims=cfg.data.embed_dims,
                                         inputs=cfg.data.inputs.effective())
            if encoder_cache is not None:
                encoder_cache[key] = encoder
    if world.is_main:
        encoder.save(out / "encoders")
        (out / "config.yaml").write_text(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))
        if world.distributed:
            world.barrier()  # the other ranks load the saved encoders now
    pipe = Pipeline.open(cfg, data, encoder, shard=(world.rank, world.size))

    seed_everything(cfg.train.seed)
    net = build_model(cfg.model_name, cfg.model_params, encoder.schema)
    # --- issue 35: a model of task "matching" trains and evaluates on the matching path (train/matching.py)
    if get_model_info(cfg.model_name).task == "matching":
        from unisr.train.matching import train_matching

        return TrainedRun(out, cfg, train_matching(cfg, spec, gate, encoder, pipe, net, out, resume=resume), net,
                          encoder)
    # --- end issue 35
    tasks = _tasks(cfg)
    # built after the model, so the model's initial weights do not depend on the switch
    bias = build_position_bias(cfg.train.position_bias, pipe.ctx.has_position, encoder.schema.num_scenarios)
    objective = Objective(net, cfg.train.losses, bias)
    names = encoder.schema.scenarios

    def evaluate_valid() -> dict:
        return flatten_tasks(evaluate_model(net, pipe.batches("valid"), names, tasks, world))

    # the model file is the position-free model (no training-only components)
    trainer, early, wall = fit_run(objective, net, cfg.train, out, pipe.epochs("train"), evaluate_valid,
                                   resume=resume, world=world)

    head, tail = run_summary(cfg, spec.name, get_model_info(cfg.model_name).task, trainer, early, wall)
    metrics = {
        **head,
        **flatten_tasks(evaluate_model(net, pipe.batches("test"), names, tasks, world)),
        **tail,
        "world_size": world.size,  # data-parallel ranks that trained it (1 = one process)
        "position_bias": bias is not None,  # trained with the training-only position bias (train.position_bias)
        "rows": gate.metrics(),  # per split: read = used + rejected (the data gate)
        "rejected": gate.reason_counts(),
    }
    if world.is_main:
        (out / "metrics.json").write_text(json.dumps(metrics, indent=1, default=float))
    return TrainedRun(out, cfg, metrics, net, encoder)


def evaluate_run(run: str | Path, data: str | Path, split: str = "test") -> dict:
    """Re-evaluate a run on ``split`` of ``data`` (through the same data gate; ``rows`` = that split's counts)."""
    cfg, _, net, pipe = open_run(run, data)  # the opener serving uses too (pipeline/run_folder.py)
    gate = open_gate(data, load_spec(Path(data)))  # already open: its counts for ``rows``
    if get_model_info(cfg.model_name).task == "matching":  # --- issue 35: retrieval metrics (train/matching.py)
        from unisr.train.matching import evaluate_matching_run

        res = evaluate_matching_run(run, cfg, net, pipe, split)
    else:  # --- end issue 35
        res = flatten_tasks(evaluate_model(net, pipe.batches(split), pipe.scenario_names, _tasks(cfg)))
    empty = {"read": 0, "used": 0, "rejected": 0, "reasons": {}}
    return {"model": cfg.model_name, "dataset": pipe.ctx.spec.name, "task": get_model_info(cfg.model_name).task,
            "split": split, "seed": cfg.train.seed, **res, "rows": {split: gate.metrics().get(split, empty)}}
