"""The loss lives outside the model: a train wrapper computes weighted per-task BCE (+ model extra losses), with
the training-only components (the position bias) that shape the training logits but are no part of the model."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unisr.data.batch import Batch
from unisr.nn.position import PositionBias
from unisr.pipeline.config import ConfigError

# the model output the position bias is added to (conversion given a click does not depend on the slot, and
# ``ctcvr`` heads such as ESMM's are products of probabilities, not a logit to shift: they are left alone)
POSITION_TASK = "click"


class Objective(nn.Module):
    """Weighted sum of point-wise BCE losses over the model's task logits.

    ``weights`` maps a task (a model output key) to its weight; each task's label is the batch label of the
    same name, unless ``label_of`` maps it elsewhere (e.g. ``ctcvr`` -> product of click and conversion).
    A model may add its own regularisers by defining ``extra_losses(batch, outputs) -> dict[str, Tensor]``
    (already weighted), e.g. a contrastive or gate-balance loss; they see the model's own outputs.

    ``position_bias``: a training-only ``PositionBias`` added to the ``click`` logit of samples with a position
    (``Batch.position``); its parameters belong to the objective, so an ``OptimizerSet(objective, ...)``
    trains them and the trainer's checkpoint keeps them (``component_state_dict``), while the model, its
    ``model.safetensors`` and every evaluation stay position-free.

    Shapes:
        forward(batch) -> (loss [], {"loss_<task>": float}); train_logits(batch) -> {task: [B] logits}
    """

    def __init__(self, model: nn.Module, weights: dict[str, float], position_bias: PositionBias | None = None
                 ) -> None:
        super().__init__()
        self.model = model
        self.weights = dict(weights)
        self.position_bias = position_bias

    def add_training_terms(self, batch: Batch, out: dict[str, Tensor]) -> dict[str, Tensor]:
        """The training logits: the model's outputs with the position bias added to the click logit."""
        if self.position_bias is None or batch.position is None or POSITION_TASK not in out:
            return out
        bias = self.position_bias(batch.position, batch.scenario_id)
        return {**out, POSITION_TASK: out[POSITION_TASK] + bias}

    def train_logits(self, batch: Batch) -> dict[str, Tensor]:
        return self.add_training_terms(batch, self.model(batch))

    def forward(self, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        out = self.model(batch)
        logits = self.add_training_terms(batch, out)
        total = torch.zeros((), dtype=torch.float32)
        parts: dict[str, float] = {}
        for task, w in self.weights.items():
            if w == 0 or task not in logits:
                continue
            loss = F.binary_cross_entropy_with_logits(logits[task], batch.label(task))
            total = total + w * loss
            parts[f"loss_{task}"] = float(loss.detach())
        extra = getattr(self.model, "extra_losses", None)
        if extra is not None:
            for name, v in extra(batch, out).items():
                total = total + v
                parts[f"loss_{name}"] = float(v.detach())
        return total, parts

    def component_state_dict(self) -> dict[str, Tensor]:
        """The training-only components' weights (not the model's): what a checkpoint keeps beside the model."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith("model.")}

    def load_component_state_dict(self, state: dict[str, Tensor]) -> None:
        """Restore what ``component_state_dict`` gave (the model's weights are restored on their own)."""
        res = self.load_state_dict(state, strict=False)
        differ = [k for k in res.missing_keys if not k.startswith("model.")] + list(res.unexpected_keys)
        if differ:
            raise KeyError(f"checkpoint and objective differ in training-only components: {sorted(differ)}")


def build_position_bias(switch: Literal["auto", "on", "off"], has_position: bool, num_scenarios: int
                        ) -> PositionBias | None:
    """The position bias of ``train.position_bias``: ``auto`` = on where the dataset has positions."""
    if switch == "on" and not has_position:
        raise ConfigError("config key train.position_bias: 'on', but the dataset's events have no position "
                          "values (use 'auto' or 'off')")
    if switch == "off" or not has_position:
        return None
    return PositionBias(num_scenarios)
