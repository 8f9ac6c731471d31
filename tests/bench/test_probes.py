"""Tests of ``unisr.bench.probes``: TreeMS's gates and a model's scenario representations read from a run (the
run folder's loading replaced by a TreeMS built on the share test schema)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import unisr.pipeline.run_folder as run_mod
from share_synth import build, share_schema
from unisr.bench.probes import gate_utilisation, scenario_representations, untrained_representations


@pytest.fixture
def treems_run(monkeypatch):
    schema = share_schema(3)
    net = build("treems").eval()
    cfg = SimpleNamespace(model_name="treems", model_params={"sparse_grad": False, "fanouts": [3, 2],
                                                             "hidden": [32, 16]})
    monkeypatch.setattr(run_mod, "load_run", lambda run: (cfg, SimpleNamespace(schema=schema), net))
    return schema


def test_gates_of_the_busiest_leaf_and_the_traffic_weighted_mean(treems_run):
    leaves = list(treems_run.scenarios)
    one, mean = gate_utilisation("run", leaves, [1.0, 5.0, 2.0])
    assert one.ndim == 2 and one.shape == mean.shape
    assert np.allclose(one.sum(-1), 1.0, atol=1e-5) and np.allclose(mean.sum(-1), 1.0, atol=1e-5)
    only = gate_utilisation("run", leaves[1:2], [1.0])[0]  # the busiest leaf alone gives the same gates
    assert np.allclose(one, only, atol=1e-6)


def test_scenario_representations_per_leaf(treems_run):
    leaves = list(treems_run.scenarios)
    reps = scenario_representations("run", leaves)
    assert reps.shape[0] == len(leaves) and np.isfinite(reps).all()
    assert np.allclose(scenario_representations("run", leaves[::-1]), reps[::-1])
    fresh = untrained_representations("run", leaves)
    assert fresh.shape == reps.shape and np.isfinite(fresh).all()
