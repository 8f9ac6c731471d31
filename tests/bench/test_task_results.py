"""Tests of ``unisr.bench.task_results``: runs by row, task and seed (single-task ``<row>/<task>`` runs and joint
``<row>`` runs), paired by seed."""

from __future__ import annotations

from unisr.bench.task_results import TaskResults

TASKS = {"search": "s", "rec": "r"}


def _run(name, seed, s=None, r=None):
    scen = {k: {"auc": v, "oracle_auc": 0.9} for k, v in (("s", s), ("r", r)) if v is not None}
    return {"run_name": name, "run_seed": seed, "scenarios": scen}


def test_single_task_and_joint_runs():
    runs = [_run("dnn/search", 1, s=0.61), _run("dnn/search", 0, s=0.60), _run("dnn/rec", 0, r=0.70),
            _run("dnn/rec", 1, s=0.99, r=0.71),  # a single-task run's other scenario is not that row's
            _run("joint", 0, s=0.65, r=0.75), _run("joint", 2, s=0.66, r=0.76)]
    res = TaskResults(runs, TASKS, seeds=3, oracle_row="joint")
    assert res.get("dnn", "search") == [0.60, 0.61] and res.get("dnn", "rec") == [0.70, 0.71]
    assert res.by_seed("joint", "rec") == {0: 0.75, 2: 0.76} and res.oracle == {"search": [0.9, 0.9],
                                                                                "rec": [0.9, 0.9]}
    assert res.paired("joint", "dnn", "search") == ([0.65], [0.60], [0])
    assert res.has("dnn") and res.has("joint") and not res.has("other")
    c = res.vs("joint", "dnn", "search")
    assert c.ok and "1 in common" in c.text  # one common seed: the margin of the full means decides
