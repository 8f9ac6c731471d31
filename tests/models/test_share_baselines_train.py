"""TreeMS's baselines trained for real: ``unisr train`` subprocesses on the simulator's tiny marketplace, share
scenarios only, with the ``graph:social`` hook; the run folder carries the user -> user ranking metrics."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

UNISR = str(Path(sys.executable).parent / "unisr")


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from unisr.simulate.api import resolve_config, simulate_config

    out = tmp_path_factory.mktemp("sim_share")
    simulate_config(resolve_config("tiny", ["n_events=30000"]), out, 0, "tiny", None, None)
    return out


@pytest.mark.parametrize("model, sets", [("share_dnn", []), ("pinsage", ["model.aggregator=lstm"])])
def test_unisr_train_on_share_scenarios(sim: Path, tmp_path: Path, model: str, sets: list[str]) -> None:
    run = tmp_path / model
    args = [UNISR, "train", "--model", model, "--data", sim, "--out", run]
    for s in ["train.threads=1", "train.epochs=1", "train.progress=false", "data.batch_size=256",
              f"data.graph_dir={tmp_path / 'graph'}", *sets]:
        args += ["--set", s]
    p = subprocess.run(list(map(str, args)), capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    m = json.loads((run / "metrics.json").read_text())
    assert m["model"] == model and m["overall"]["n"] > 0
    assert set(m["scenarios"]) and all(name.startswith("share") for name in m["scenarios"])  # share only
    for key in ("auc", "gauc", "mrr", "hr@5", "hr@10", "oracle_auc"):
        assert 0.0 <= m["overall"][key] <= 1.0, key
    assert (run / "model.safetensors").exists() and (run / "config.yaml").exists()
