"""The loss lives outside the model: a train wrapper computes weighted per-task BCE (+ model extra losses)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unisr.data.batch import Batch


class Objective(nn.Module):
    """Weighted sum of point-wise BCE losses over the model's task logits.

    ``weights`` maps a task (a model output key) to its weight; each task's label is the batch label of the
    same name, unless ``label_of`` maps it elsewhere (e.g. ``ctcvr`` -> product of click and conversion).
    A model may add its own regularisers by defining ``extra_losses(batch, outputs) -> dict[str, Tensor]``
    (already weighted), e.g. a contrastive or gate-balance loss.
    """

    def __init__(self, model: nn.Module, weights: dict[str, float]) -> None:
        super().__init__()
        self.model = model
        self.weights = dict(weights)

    @staticmethod
    def label(batch: Batch, task: str) -> Tensor:
        return batch.label(task)

    def forward(self, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        out = self.model(batch)
        total = torch.zeros((), dtype=torch.float32)
        parts: dict[str, float] = {}
        for task, w in self.weights.items():
            if w == 0 or task not in out:
                continue
            loss = F.binary_cross_entropy_with_logits(out[task], self.label(batch, task))
            total = total + w * loss
            parts[f"loss_{task}"] = float(loss.detach())
        extra = getattr(self.model, "extra_losses", None)
        if extra is not None:
            for name, v in extra(batch, out).items():
                total = total + v
                parts[f"loss_{name}"] = float(v.detach())
        return total, parts
