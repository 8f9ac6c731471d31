"""``benchmarks/ceiling_learners.py``: the observable ceiling's features with a GBDT, a logistic regression and an
MLP; its transform on a hand case, and the script end to end on the tiny simulation."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("lightgbm")
pytest.importorskip("sklearn")

_DIR = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(_DIR))
_spec = importlib.util.spec_from_file_location("ceiling_learners", _DIR / "ceiling_learners.py")
cl = importlib.util.module_from_spec(_spec)
sys.modules["ceiling_learners"] = cl
_spec.loader.exec_module(cl)


def test_prepare_logs_counts_and_standardises_on_train_only():
    train = np.array([[0.0, -1.0, 0.5], [100.0, 1.0, 0.5], [np.nan, 0.0, 0.5]])  # a count, a signed, a constant
    test = np.array([[1000.0, 3.0, 0.5]])
    tr, te = cl.prepare(train, test)
    logs = np.log1p(np.array([0.0, 100.0, 0.0]))  # NaN -> 0, then log1p: the first column is a count (max > 20)
    assert np.allclose(tr[:, 0], (logs - logs.mean()) / (logs.std() + 1e-6), atol=1e-6)
    assert np.isclose(te[0, 0], (np.log1p(1000.0) - logs.mean()) / (logs.std() + 1e-6), atol=1e-5)
    assert np.isclose(te[0, 1], 3.0 / (np.std([-1.0, 1.0, 0.0]) + 1e-6), atol=1e-5)  # not a count: scaled only
    assert np.allclose(tr[:, 2], 0.0) and te.dtype == np.float32  # a constant column does not blow up


def test_script_runs_end_to_end_on_the_tiny_simulation(sim_dir: Path, tmp_path: Path):
    from unisr.bench.page import FORMAT, section

    out = tmp_path / "ceiling-learners.json"
    cl.MLP_EPOCHS, cl.MLP_BATCH = 5, 128  # enough steps on the tiny rows
    data = cl.main(["--data", str(sim_dir), "--rounds", "60", "--scenarios", "search_text", "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved["format"] == FORMAT and saved["benchmark"] == "ceiling-learners"
    r = data["scenarios"]["search_text"]
    assert all(0.5 < r[k] <= 1.0 for k in ("gbdt", "logistic_regression", "mlp")), r  # each learns something
    assert 0 <= r["mlp_best_epoch"] < 5 and len(saved["tables"][0]["rows"]) == 3
    assert section({"benchmark": "ceiling-learners", **saved})
