"""Optimizers: dense parameters with Adam/AdamW/Adagrad/SGD; embedding tables with sparse gradients get a
sparse optimizer (SparseAdam, sparse Adagrad or SGD), so a step touches only the rows of the batch.

Embedding tables need sparse gradients by design: with 10^6-row tables dense Adam updates every row every
step (~1k samples/s measured on 2 cores) while sparse updates reach ~55k samples/s. The dense optimizer uses
torch's fused kernel where it exists (``step_options``).

Shapes:
    (no tensors of its own) model parameters -> optimizer state of the same shapes
"""

from __future__ import annotations

import torch
from torch import nn

from unisr.pipeline.config import TrainConfig


def split_parameters(model: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """(dense params, sparse params): a parameter is sparse if it is the weight of an ``nn.Embedding`` or
    ``nn.EmbeddingBag`` built with ``sparse=True``."""
    sparse_ids = set()
    for m in model.modules():
        if isinstance(m, nn.Embedding | nn.EmbeddingBag) and m.sparse:
            sparse_ids.add(id(m.weight))
    dense, sparse = [], []
    for p in model.parameters():
        if not p.requires_grad:
            continue
        (sparse if id(p) in sparse_ids else dense).append(p)
    return dense, sparse


FUSED_DEVICES = ("cpu", "cuda")  # where torch 2.13 has fused Adam / AdamW / Adagrad / SGD kernels


def step_options(params: list[nn.Parameter], impl: str) -> dict[str, bool]:
    """Keyword arguments for a dense torch optimizer: ``fused`` (one kernel over all parameters instead of a
    handful of ops per parameter: Adam's step on ~750k weights in 72 tensors 4.3 -> 0.9 ms on one CPU thread,
    ``benchmarks/optimizer_impl.py``; the same update up to float rounding, max difference 2.4e-7 after 100
    steps), ``foreach`` or the per-parameter loop. ``auto``: fused where every parameter is a floating tensor
    on a device with a fused kernel, else torch's default."""
    if impl == "fused" or (impl == "auto" and params and all(
            p.device.type in FUSED_DEVICES and p.dtype.is_floating_point for p in params)):
        return {"fused": True}
    if impl == "foreach":
        return {"foreach": True}
    if impl == "for_loop":
        return {"foreach": False}
    return {}


class OptimizerSet:
    """One optimizer for dense and one for sparse parameters, stepped together."""

    def __init__(self, model: nn.Module, cfg: TrainConfig) -> None:
        dense, sparse = split_parameters(model)
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        if dense:
            kind, how = cfg.optimizer, step_options(dense, cfg.optimizer_impl)
            if kind == "adam":
                opt = torch.optim.Adam(dense, lr=cfg.lr, weight_decay=cfg.weight_decay, **how)
            elif kind == "adamw":
                opt = torch.optim.AdamW(dense, lr=cfg.lr, weight_decay=cfg.weight_decay, **how)
            elif kind == "adagrad":
                opt = torch.optim.Adagrad(dense, lr=cfg.lr, weight_decay=cfg.weight_decay,
                                          initial_accumulator_value=cfg.adagrad_init, **how)
            else:
                opt = torch.optim.SGD(dense, lr=cfg.lr, weight_decay=cfg.weight_decay, **how)
            self.optimizers["dense"] = opt
        if sparse:
            kind = cfg.sparse_optimizer
            if kind == "auto":
                kind = {"adam": "sparse_adam", "adamw": "sparse_adam", "adagrad": "adagrad", "sgd": "sgd"}[
                    cfg.optimizer]
            lr = cfg.sparse_lr or cfg.lr
            if kind == "sparse_adam":
                opt = torch.optim.SparseAdam(sparse, lr=lr)
            elif kind == "adagrad":
                opt = torch.optim.Adagrad(sparse, lr=lr, initial_accumulator_value=cfg.adagrad_init)
            else:
                opt = torch.optim.SGD(sparse, lr=lr)
            self.optimizers["sparse"] = opt
        self.schedulers = []
        if cfg.lr_step is not None:
            self.schedulers = [torch.optim.lr_scheduler.StepLR(o, cfg.lr_step.step_size, cfg.lr_step.gamma)
                               for o in self.optimizers.values()]

    def zero_grad(self) -> None:
        for o in self.optimizers.values():
            o.zero_grad(set_to_none=True)

    def step(self) -> None:
        for o in self.optimizers.values():
            o.step()
            if o.defaults.get("fused"):
                # torch's fused kernels update the weights in place without bumping their version counters;
                # code that caches on ``weight._version`` (models/lightgcn.py's propagation) must see the change
                for g in o.param_groups:
                    torch.autograd.graph.increment_version(g["params"])

    def epoch_end(self) -> None:
        for s in self.schedulers:
            s.step()

    def dense_params(self) -> list[nn.Parameter]:
        o = self.optimizers.get("dense")
        return [p for g in o.param_groups for p in g["params"]] if o else []

    def state_dict(self) -> dict:
        return {"optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
                "schedulers": [s.state_dict() for s in self.schedulers]}

    def load_state_dict(self, state: dict) -> None:
        for k, o in self.optimizers.items():
            o.load_state_dict(state["optimizers"][k])
        for s, st in zip(self.schedulers, state["schedulers"], strict=True):
            s.load_state_dict(st)
