"""The CLI as a user runs it: real subprocesses of the installed ``unisr`` console script."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from synth import make_dataset

UNISR = str(Path(sys.executable).parent / "unisr")


def run(*args, check=True):
    p = subprocess.run([UNISR, *map(str, args)], capture_output=True, text=True, timeout=600)
    if check and p.returncode != 0:
        raise AssertionError(f"exit {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("d") / "data", n_events=3000)


def test_models_json_lists_registered_models():
    rows = json.loads(run("models", "--json").stdout)
    names = {r["name"] for r in rows}
    assert {"dnn", "shared_bottom", "mmoe", "ple", "star"} <= names
    for r in rows:
        assert r["task"] in ("ranking", "matching") and r["paper"] and r["needs"]


def test_help_everywhere():
    for cmd in ([], ["train"], ["evaluate"], ["models"], ["benchmark"], ["data"]):
        assert "Usage" in run(*cmd, "--help").stdout


def test_train_then_evaluate(data, tmp_path):
    out = tmp_path / "run"
    run("train", "--model", "ple", "--data", data, "--out", out, "--seed", 1,
        "--set", "train.epochs=2", "--set", "data.batch_size=512", "--set", "train.progress=false")
    m = json.loads((out / "metrics.json").read_text())
    assert m["model"] == "ple" and m["seed"] == 1 and set(m["scenarios"]) == {"scen0", "scen1", "scen2"}
    ev = json.loads(run("evaluate", "--run", out).stdout)
    assert ev["overall"]["auc"] == pytest.approx(m["overall"]["auc"], abs=1e-9)
    valid = json.loads(run("evaluate", "--run", out, "--data", data, "--split", "valid").stdout)
    assert valid["split"] == "valid" and valid["overall"]["n"] > 0


@pytest.mark.parametrize("args,needle", [
    (["--model", "nope"], "unknown model"),
    (["--model", "dnn", "--set", "train.lr=fast"], "train.lr"),
    (["--model", "dnn", "--set", "model.hiddn=[3]"], "model.hiddn"),
    (["--model", "dnn", "--set", "data.scenarios=[nope]"], "data.scenarios"),
])
def test_bad_input_exits_2_naming_the_key(data, tmp_path, args, needle):
    p = run("train", "--data", data, "--out", tmp_path / "r", *args, check=False)
    assert p.returncode == 2, p.stderr
    assert needle in p.stdout + p.stderr


def test_missing_data_exits_2(tmp_path):
    p = run("train", "--model", "dnn", "--data", tmp_path / "nothing", "--out", tmp_path / "r", check=False)
    assert p.returncode == 2 and "nothing" in p.stdout + p.stderr


def test_unknown_suite_exits_2(tmp_path):
    p = run("benchmark", "--suite", "nope", "--out", tmp_path, check=False)
    assert p.returncode == 2 and "swr-movielens" in p.stdout + p.stderr
