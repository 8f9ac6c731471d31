"""Run a model over a loader and compute per-scenario metrics for each of its tasks.

In a data-parallel run each rank scores its shard of the split and the ranks' predictions are gathered before
any metric is computed (``world``), so AUC / GAUC / list metrics are those of the whole split, never an average
of per-rank values; every rank gets the same numbers (early stopping decides alike on every rank).

Shapes:
    evaluate_model(model, batches of [B, ...]) -> {task: {"overall": {...}, "scenarios": {...}}}
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from unisr.data.batch import Batch
from unisr.evaluate.metrics import ScenarioMetrics
from unisr.pipeline.distributed import World


@torch.no_grad()
def evaluate_model(model: nn.Module, batches: Iterable[Batch], scenario_names: list[str],
                   tasks: tuple[str, ...] = ("click",), world: World | None = None) -> dict[str, dict]:
    """Returns ``{task: {"overall": {...}, "scenarios": {name: {...}}}}``. Oracle AUC uses ``p_click``
    (the simulator's truth) for the click task, ``oracle_auc_no_position`` its ``p_click_no_position``.
    ``world``: the ranks' predictions are gathered (exact metrics over the whole split on every rank)."""
    was_training = model.training
    model.eval()
    mets = {t: ScenarioMetrics(scenario_names) for t in tasks}
    try:
        for batch in batches:
            out = model(batch)
            for t in tasks:
                if t not in out:
                    continue
                try:
                    label = batch.label(t)
                except KeyError:
                    continue
                mets[t].update(
                    scenario=batch.scenario_id.numpy(),
                    label=label.numpy(),
                    prob=torch.sigmoid(out[t]).numpy(),
                    user=batch.user_index.numpy(),
                    request=None if batch.request_id is None else batch.request_id.numpy(),
                    p_true=batch.p_click.numpy() if (batch.p_click is not None and t == "click") else None,
                    p_true_no_position=(batch.p_click_no_position.numpy()
                                        if batch.p_click_no_position is not None and t == "click" else None),
                )
    finally:
        model.train(was_training)
    if world is not None and world.distributed:
        for m in mets.values():
            m.merge(world.all_gather(m.parts))
    return {t: m.compute() for t, m in mets.items() if m.parts}


def flatten_tasks(per_task: dict[str, dict], main: str = "click") -> dict:
    """Contract layout: main task's metrics unprefixed; with several tasks, every metric also as
    ``<task>_<metric>`` (``ctr_auc``, ``ctcvr_auc``; ``click`` is called ``ctr``)."""
    alias = {"click": "ctr"}
    main_m = per_task.get(main) or next(iter(per_task.values()))
    out = {"overall": dict(main_m["overall"]), "scenarios": {k: dict(v) for k, v in main_m["scenarios"].items()}}
    if len(per_task) > 1:
        for task, m in per_task.items():
            p = alias.get(task, task)
            for k, v in m["overall"].items():
                out["overall"][f"{p}_{k}"] = v
            for s, block in m["scenarios"].items():
                for k, v in block.items():
                    out["scenarios"].setdefault(s, {})[f"{p}_{k}"] = v
    return out
