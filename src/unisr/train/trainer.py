"""A small training loop with callbacks: early stopping that restores the *best* weights, resumable
checkpoints (same final metrics as an uninterrupted run), JSONL logging, Rich progress with throughput,
gradient clipping, and stages (e.g. pre-training then fine-tuning).

Data-parallel (``world`` of ``pipeline.distributed``, launched by torchrun): the objective is wrapped in
``DistributedDataParallel`` (gradients all-reduced, sparse embedding gradients included on gloo; parameters a
rank's scenario-routed batch did not touch handled by ``find_unused_parameters``, ``train.ddp_find_unused``);
ranks with fewer batches in an epoch shadow the others' all-reduces (``torch.distributed.algorithms.Join``), so
uneven shards neither hang nor drop rows; validation is gathered (every rank takes the same early-stopping
decision); only rank 0 logs, checkpoints and writes weights.

Shapes:
    (no tensors of its own) Trainer.fit(epoch -> Iterable[Batch], evaluate_fn, epochs)
"""

from __future__ import annotations

import copy
import json
import math
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from torch import nn

from unisr.data.batch import Batch
from unisr.pipeline.distributed import World
from unisr.train.objective import Objective
from unisr.train.optim import OptimizerSet


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))  # noqa: NPY002 - seeds third-party code that uses the legacy global RNG
    torch.manual_seed(seed)


def lookup_metric(metrics: dict, key: str) -> float:
    """``auc`` -> metrics['overall']['auc']; ``scenarios.x.auc`` -> metrics['scenarios']['x']['auc'];
    ``scenarios.*.auc`` -> the mean over the scenarios that have a finite ``auc`` (a joint model selected on
    each scenario alike, not on one AUC pooled over scenarios with other base rates);
    ``auc+ctcvr_auc`` -> the mean of the named metrics (model selection over several tasks)."""
    if "+" in key:
        parts = [k.strip() for k in key.split("+")]
        return float(sum(lookup_metric(metrics, k) for k in parts) / len(parts))
    if key.startswith("scenarios.*."):
        name = key[len("scenarios.*."):]
        vals = [float(v[name]) for v in metrics.get("scenarios", {}).values()
                if isinstance(v, dict) and v.get(name) is not None and math.isfinite(float(v[name]))]
        if not vals:
            raise KeyError(f"monitor {key}: no scenario has a finite {name!r}")
        return sum(vals) / len(vals)
    node: Any = metrics if "." in key else metrics["overall"]
    for p in key.split("."):
        node = node[p]
    return float(node)


# ------------------------------------------------------------------------------------------- callbacks
class Callback:
    def on_stage_start(self, trainer: Trainer, stage: str) -> None: ...

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict) -> None: ...

    def on_train_end(self, trainer: Trainer) -> None: ...


@dataclass
class EarlyStopping(Callback):
    """Stops after ``patience`` evaluations without improvement of ``monitor``; keeps the best weights and
    restores them at the end (never the last epoch's)."""

    monitor: str = "auc"
    mode: str = "max"
    patience: int = 4
    min_delta: float = 0.0
    best: float = field(default=float("nan"))
    best_epoch: int = -1
    bad_epochs: int = 0
    best_state: dict[str, torch.Tensor] | None = None

    def improved(self, value: float) -> bool:
        if math.isnan(self.best):
            return not math.isnan(value)
        return value > self.best + self.min_delta if self.mode == "max" else value < self.best - self.min_delta

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict) -> None:
        if "valid" not in logs:
            return
        value = lookup_metric(logs["valid"], self.monitor)
        if self.improved(value):
            self.best, self.best_epoch, self.bad_epochs = value, epoch, 0
            self.best_state = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}
        else:
            self.bad_epochs += 1
            if self.bad_epochs >= self.patience:
                trainer.stop = True

    def on_train_end(self, trainer: Trainer) -> None:
        if self.best_state is not None:
            trainer.model.load_state_dict(self.best_state)

    def state(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch, "bad_epochs": self.bad_epochs,
                "best_state": self.best_state or {}}

    def load(self, st: dict) -> None:
        self.best, self.best_epoch, self.bad_epochs = st["best"], st["best_epoch"], st["bad_epochs"]
        self.best_state = st["best_state"] or None


@dataclass
class JsonlLogger(Callback):
    path: Path

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps(logs, default=float) + "\n")


# --------------------------------------------------------------------------------------------- trainer
class Trainer:
    """Runs epochs of ``objective`` over a loader; evaluates with ``evaluate_fn`` after each epoch.

    ``checkpoint_path``: a resumable checkpoint (model, the objective's training-only components such as the
    position bias, optimizers, RNG, callbacks, epoch) written after
    each epoch; ``fit(resume=True)`` continues from it and reaches the same final state as an
    uninterrupted run, because the loader's order depends only on (seed, epoch).
    """

    def __init__(self, objective: Objective, optimizers: OptimizerSet, *, clip_norm: float | None = None,
                 callbacks: list[Callback] | None = None, checkpoint_path: Path | None = None,
                 checkpoint_every: int = 1, progress: bool = True, max_steps_per_epoch: int | None = None,
                 world: World | None = None, find_unused_parameters: bool = True) -> None:
        self.objective = objective
        self.model: nn.Module = objective.model
        self.world = world or World.single()
        self.step_module: nn.Module = objective  # what a training step calls: the objective, or its DDP wrapper
        if self.world.distributed:
            from torch.nn.parallel import DistributedDataParallel

            # buffers are constants of the model (item feature tables, vocabularies): not re-broadcast per step
            self.step_module = DistributedDataParallel(objective, find_unused_parameters=find_unused_parameters,
                                                       forward_sync_buffers=False)
            progress = progress and self.world.is_main
            if not self.world.is_main:  # every rank loads a checkpoint on resume; rank 0 alone writes one
                callbacks = [cb for cb in (callbacks or []) if not isinstance(cb, JsonlLogger)]
        self.optimizers = optimizers
        self.clip_norm = clip_norm
        self.callbacks = callbacks or []
        self.checkpoint_path = checkpoint_path
        self.checkpoint_every = checkpoint_every
        self.progress = progress
        self.max_steps = max_steps_per_epoch
        self.stop = False
        self.epoch = 0
        self.samples_seen = 0
        self.train_seconds = 0.0
        self.stage = "train"

    # ------------------------------------------------------------- one epoch
    def train_epoch(self, batches: Iterable[Batch], total: int | None = None) -> dict:
        self.model.train()
        n, loss_sum, t0 = 0, 0.0, time.perf_counter()
        parts_sum: dict[str, float] = {}
        progress = None
        if self.progress:
            progress = Progress(TextColumn(f"[bold]{self.stage} epoch {self.epoch}"), BarColumn(),
                                TextColumn("{task.completed:,} samples"), TextColumn("{task.fields[rate]}"),
                                TimeElapsedColumn(), transient=True)
            progress.start()
            task = progress.add_task("train", total=total, rate="")
        join = None
        if self.world.distributed:
            from torch.distributed.algorithms.join import Join

            join = Join([self.step_module])
            join.__enter__()
        try:
            for step, batch in enumerate(batches):
                if self.max_steps is not None and step >= self.max_steps:
                    break
                self.optimizers.zero_grad()
                loss, parts = self.step_module(batch)
                loss.backward()
                if self.clip_norm:
                    torch.nn.utils.clip_grad_norm_(self.optimizers.dense_params(), self.clip_norm)
                self.optimizers.step()
                b = len(batch)
                n += b
                loss_sum += float(loss.detach()) * b
                for k, v in parts.items():
                    parts_sum[k] = parts_sum.get(k, 0.0) + v * b
                if progress is not None:
                    rate = n / max(time.perf_counter() - t0, 1e-9)
                    progress.update(task, advance=b, rate=f"{rate:,.0f} samples/s")
            if join is not None:
                join.__exit__(None, None, None)  # shadows the peers' remaining all-reduces
                join = None
        finally:
            if progress is not None:
                progress.stop()
        secs = time.perf_counter() - t0
        if self.world.distributed:  # the job's samples and rows; the slowest rank's time
            counts = self.world.all_gather((n, loss_sum, secs, parts_sum))
            n, loss_sum, secs = (sum(c[0] for c in counts), sum(c[1] for c in counts), max(c[2] for c in counts))
            parts_sum = {k: sum(c[3].get(k, 0.0) for c in counts) for k in parts_sum}
        self.samples_seen += n
        self.train_seconds += secs
        out = {"train_loss": loss_sum / max(n, 1), "train_samples": n, "train_seconds": secs,
               "samples_per_second": n / max(secs, 1e-9)}
        out.update({k: v / max(n, 1) for k, v in parts_sum.items()})
        return out

    # ----------------------------------------------------------------- fit
    def fit(self, epoch_batches: Callable[[int], Iterable[Batch]], evaluate_fn: Callable[[], dict] | None,
            epochs: int, *, resume: bool = False, stage: str = "train", total: int | None = None) -> None:
        self.stage, self.stop = stage, False
        for cb in self.callbacks:
            cb.on_stage_start(self, stage)
        start = 0
        if resume and self.checkpoint_path is not None and self.checkpoint_path.exists():
            start = self.load_checkpoint(self.checkpoint_path)
        for epoch in range(start, epochs):
            if self.stop:
                break
            self.epoch = epoch
            logs: dict[str, Any] = {"stage": stage, "epoch": epoch}
            logs.update(self.train_epoch(epoch_batches(epoch), total))
            self.optimizers.epoch_end()
            if evaluate_fn is not None:
                logs["valid"] = evaluate_fn()
            for cb in self.callbacks:
                cb.on_epoch_end(self, epoch, logs)
            if (self.checkpoint_path is not None and self.checkpoint_every and self.world.is_main
                    and (epoch + 1) % self.checkpoint_every == 0):
                self.save_checkpoint(self.checkpoint_path, epoch + 1)
        for cb in self.callbacks:
            cb.on_train_end(self)

    # ---------------------------------------------------------- checkpoint
    def save_checkpoint(self, path: Path, next_epoch: int) -> None:
        """Everything needed to continue: loadable with ``torch.load(weights_only=True)``."""
        state = {
            "next_epoch": next_epoch,
            "stop": self.stop,
            "model": self.model.state_dict(),
            "objective": self.objective.component_state_dict(),  # training-only components (position bias)
            "optimizers": self.optimizers.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "samples_seen": self.samples_seen,
            "train_seconds": self.train_seconds,
            "callbacks": [cb.state() if hasattr(cb, "state") else {} for cb in self.callbacks],
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        torch.save(state, tmp)
        tmp.replace(path)

    def load_checkpoint(self, path: Path) -> int:
        state = torch.load(path, weights_only=True)
        self.model.load_state_dict(state["model"])
        self.objective.load_component_state_dict(state.get("objective", {}))
        self.optimizers.load_state_dict(state["optimizers"])
        torch.set_rng_state(state["torch_rng"])
        self.samples_seen = state["samples_seen"]
        self.train_seconds = state["train_seconds"]
        self.stop = state["stop"]
        for cb, st in zip(self.callbacks, state["callbacks"], strict=True):
            if hasattr(cb, "load"):
                cb.load(copy.deepcopy(st))
        return int(state["next_epoch"])


def fit_run(objective: nn.Module, net: nn.Module, train_cfg, out: Path, epochs: Callable[[int], Iterable[Batch]],
            evaluate: Callable[[], dict], *, resume: bool, world: World | None = None,
            ) -> tuple[Trainer, EarlyStopping, float]:
    """The one training run of a run folder, for every task (ranking and matching): early stopping on
    ``train_cfg.monitor`` (the best weights restored), ``out/checkpoints/last.pt`` checked before a resume,
    ``out/train_log.jsonl``, then ``out/model.safetensors``. Returns the trainer (its counters), the early-stopping
    state and the wall time. ``world``: a data-parallel run (rank 0 writes the files; ``evaluate`` must gather)."""
    world = world or World.single()
    from safetensors.torch import save_model

    from unisr.pipeline.run_folder import check_checkpoint

    early = EarlyStopping(monitor=train_cfg.monitor, mode=train_cfg.mode, patience=train_cfg.patience)
    ckpt = out / "checkpoints" / "last.pt"
    if resume and ckpt.exists():
        check_checkpoint(ckpt, net)
    log_path = out / "train_log.jsonl"
    if not resume and log_path.exists() and world.is_main:
        log_path.unlink()
    trainer = Trainer(objective, OptimizerSet(objective, train_cfg), clip_norm=train_cfg.clip_norm,
                      callbacks=[early, JsonlLogger(log_path)], checkpoint_path=ckpt,
                      checkpoint_every=train_cfg.checkpoint_every, progress=train_cfg.progress,
                      max_steps_per_epoch=train_cfg.max_steps_per_epoch, world=world,
                      find_unused_parameters=train_cfg.ddp_find_unused)
    t0 = time.perf_counter()
    trainer.fit(epochs, evaluate, train_cfg.epochs, resume=resume)
    wall = time.perf_counter() - t0
    if world.is_main:
        save_model(net, str(out / "model.safetensors"))
    return trainer, early, wall


def run_summary(cfg, dataset: str, task: str, trainer: Trainer, early: EarlyStopping, wall: float
                ) -> tuple[dict, dict]:
    """The keys every run's ``metrics.json`` starts with and ends with (the test metrics go between them):
    (head, tail) merged by the caller as ``{**head, **test_metrics, **tail}``."""
    return {"model": cfg.model_name, "dataset": dataset, "task": task, "split": "test", "seed": cfg.train.seed}, {
        "train_seconds": trainer.train_seconds, "train_wall_seconds": wall,
        "train_samples_per_second": trainer.samples_seen / max(trainer.train_seconds, 1e-9),
        "best_epoch": early.best_epoch, "best_valid": early.best, "monitor": cfg.train.monitor}
