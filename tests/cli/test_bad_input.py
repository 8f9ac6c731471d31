"""The probe matrix of issue 34: every corruption of a user's data, config, run folder or output path, at every
entry point (``train``, ``evaluate``, ``graph build``, ``data describe``, ``data validate``, ``simulate``,
``data import``). Each probe asserts the exit code, that the message names the place (file, column, row or
key), that bad input prints no traceback, and where rows are involved that read = used + rejected.

The commands run in-process (Typer's runner, a wide terminal so messages are not wrapped) on one simulated
``tiny`` dataset per session (``sim_dir``); training budgets are one epoch of two steps.

Shapes:
    (no tensors) corrupted copies of one dataset -> exit codes, messages, row counts
"""

from __future__ import annotations

import json
import math
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from unisr.cli.main import app

runner = CliRunner()
FAST = ["--set", "train.epochs=1", "--set", "train.max_steps_per_epoch=2", "--set", "train.progress=false"]


LAST: dict = {}


def cli(*args: object) -> tuple[int, str]:
    """(exit code, everything printed); ``LAST["stdout"]``: stdout alone."""
    r = runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "400"})
    out = r.output
    LAST["stdout"] = r.stdout
    try:
        if r.stderr not in out:
            out += r.stderr
    except (ValueError, AttributeError):
        pass
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        import traceback

        out += "".join(traceback.format_exception(r.exception))
    return r.exit_code, out


def assert_bad_input(code: int, out: str, *needles: str) -> None:
    assert code == 2, out
    assert "Traceback" not in out, out
    for n in needles:
        assert n in out, f"{n!r} not in:\n{out}"


# ------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def ds(sim_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """``copy(name)``: a fresh copy of the simulated dataset to corrupt."""
    base = tmp_path_factory.mktemp("probes")

    def copy(name: str) -> Path:
        dst = base / name
        if dst.exists():
            shutil.rmtree(dst)
        shutil.copytree(sim_dir, dst, ignore=shutil.ignore_patterns("graph", "latent"))
        return dst

    return copy


@pytest.fixture(scope="module")
def run_dir(sim_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "dnn"
    code, text = cli("train", "--model", "dnn", "--data", sim_dir, "--out", out, *FAST)
    assert code == 0, text
    return out


def events_of(root: Path) -> pa.Table:
    return pq.read_table(root / "events.parquet")


def rewrite_events(root: Path, edit) -> None:
    t = events_of(root)
    d = t.to_pydict()
    edit(d)
    pq.write_table(pa.table(d, schema=t.schema), root / "events.parquet", row_group_size=10_000)


# ---------------------------------------------------------------------- row corruptions: the data gate
class Shifted:
    """A list seen from offset ``k``: ``view[i]`` is ``base[i + k]``."""

    def __init__(self, base: list, k: int) -> None:
        self.base, self.k = base, k

    def __getitem__(self, i: int):
        return self.base[i + self.k]

    def __setitem__(self, i: int, v) -> None:
        self.base[i + self.k] = v


ROW_PROBES = {  # name -> (edit of the events dict at row 7, reason, column)
    "null ts": (lambda d: d["ts"].__setitem__(7, None), "null ts", "ts"),
    "click 2": (lambda d: d["click"].__setitem__(7, 2), "click not in {0,1}", "click"),
    "null click": (lambda d: d["click"].__setitem__(7, None), "null click", "click"),
    "null user": (lambda d: d["user_id"].__setitem__(7, None), "null user_id", "user_id"),
    "null item": (lambda d: d["item_id"].__setitem__(7, None), "null item_id", "item_id"),
    "dangling item": (lambda d: d["item_id"].__setitem__(7, 10**12), "dangling item_id", "item_id"),
    "dangling user": (lambda d: d["user_id"].__setitem__(7, -5), "dangling user_id", "user_id"),
    "duplicate id": (lambda d: d["event_id"].__setitem__(7, d["event_id"][3]), "duplicate event_id", "event_id"),
    "unknown scenario": (lambda d: d["scenario_id"].__setitem__(7, 999), "unknown scenario_id", "scenario_id"),
    "ts far future": (lambda d: d["ts"].__setitem__(7, 10**12), "ts out of range", "ts"),
    "ts negative": (lambda d: d["ts"].__setitem__(7, -1), "ts out of range", "ts"),
}


@pytest.mark.parametrize("probe", sorted(ROW_PROBES))
def test_bad_row_fail_policy_exits_2_naming_file_column_row(ds, tmp_path: Path, probe: str) -> None:
    edit, _, column = ROW_PROBES[probe]
    data = ds(probe.replace(" ", "_"))
    rewrite_events(data, edit)
    code, out = cli("train", "--model", "dnn", "--data", data, "--out", tmp_path / "r", *FAST,
                    "--set", "data.on_bad_rows=fail")
    assert_bad_input(code, out, "events.parquet", f"column {column}", "row 7", "data.on_bad_rows=fail")
    assert not (tmp_path / "r" / "model.safetensors").exists()
    code, out = cli("data", "validate", data)  # the same rule, reported by validate
    assert_bad_input(code, out, "events.parquet", f"column {column}", "row 7")


def test_bad_rows_are_rejected_counted_and_never_lost(ds, run_dir: Path, tmp_path: Path) -> None:
    """Every row corruption at once (rows 7..): train exits 0, each bad row is in rejected.parquet with its reason,
    metrics.json rows add up per split, the test metrics are finite; evaluate and graph build count the same."""
    data = ds("all_rows")
    probes = sorted(ROW_PROBES)
    clean = events_of(data)

    def edit(d: dict) -> None:  # probe k edits row 7 + k ("row 7" of a view shifted by k; row 3 + k stays clean)
        for k, name in enumerate(probes):
            ROW_PROBES[name][0]({c: Shifted(v, k) for c, v in d.items()})

    rewrite_events(data, edit)
    out_run = tmp_path / "run"
    code, out = cli("train", "--model", "dnn", "--data", data, "--out", out_run, *FAST)
    assert code == 0, out
    assert "rejected" in out and f"{clean.num_rows:,} rows read" in out
    m = json.loads((out_run / "metrics.json").read_text())
    rows = m["rows"]
    for split, r in rows.items():
        assert r["read"] == r["used"] + r["rejected"], (split, r)
        assert sum(r["reasons"].values()) == r["rejected"]
    assert sum(r["read"] for r in rows.values()) == clean.num_rows
    assert sum(r["rejected"] for r in rows.values()) == len(probes)
    assert set(m["rejected"]) == {ROW_PROBES[p][1] for p in probes}
    rej = pq.read_table(out_run / "rejected.parquet")
    assert rej.num_rows == len(probes) and set(rej["row"].to_pylist()) == set(range(7, 7 + len(probes)))
    assert set(rej["reason"].to_pylist()) == set(m["rejected"])
    assert math.isfinite(m["overall"]["logloss"]) and math.isfinite(m["overall"]["auc"])

    code, out = cli("evaluate", "--run", run_dir, "--data", data)
    assert code == 0, out
    ev = json.loads(LAST["stdout"])
    t = ev["rows"]["test"]
    assert t["read"] == t["used"] + t["rejected"] and ev["overall"]["n"] == t["used"]

    code, out = cli("graph", "build", "--data", data, "--out", tmp_path / "graph")
    assert code == 0, out
    assert pq.read_table(tmp_path / "graph" / "rejected.parquet").num_rows == len(probes)


# ------------------------------------------------------------------------- unusable tables x entry points
def _garbage(p: Path) -> None:
    p.write_bytes(b"this is not parquet at all" * 10)


def _truncate(p: Path) -> None:
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


TABLE_PROBES = {
    "garbage events": ("events.parquet", _garbage),
    "truncated events": ("events.parquet", _truncate),
    "missing events": ("events.parquet", lambda p: p.unlink()),
    "missing items": ("items.parquet", lambda p: p.unlink()),
    "garbage users": ("users.parquet", _garbage),
    "truncated items": ("items.parquet", _truncate),
}
ENTRY = ["train", "evaluate", "graph build", "data describe", "data validate"]


def _entry_args(entry: str, data: Path, run_dir: Path, tmp: Path) -> list:
    return {
        "train": ["train", "--model", "dnn", "--data", data, "--out", tmp / "r", *FAST],
        "evaluate": ["evaluate", "--run", run_dir, "--data", data],
        "graph build": ["graph", "build", "--data", data, "--out", tmp / "g"],
        "data describe": ["data", "describe", data],
        "data validate": ["data", "validate", data],
    }[entry]


@pytest.fixture(scope="module")
def broken(ds):
    made: dict[str, Path] = {}

    def get(probe: str) -> Path:
        if probe not in made:
            name, fn = TABLE_PROBES[probe]
            d = ds("t_" + probe.replace(" ", "_"))
            fn(d / name)
            made[probe] = d
        return made[probe]

    return get


@pytest.mark.parametrize("entry", ENTRY)
@pytest.mark.parametrize("probe", sorted(TABLE_PROBES))
def test_unusable_table_exits_2_naming_the_file(broken, run_dir: Path, tmp_path: Path, probe: str,
                                                entry: str) -> None:
    data = broken(probe)
    code, out = cli(*_entry_args(entry, data, run_dir, tmp_path))
    assert_bad_input(code, out, TABLE_PROBES[probe][0])


@pytest.mark.parametrize("entry", ENTRY)
def test_all_zero_split_proportions_exit_2(ds, run_dir: Path, tmp_path: Path, entry: str) -> None:
    data = ds("zero_split")
    spec = yaml.safe_load((data / "dataset.yaml").read_text())
    spec["split"] = {"kind": "time", "proportions": {"background": 0, "train": 0, "valid": 0, "test": 0}}
    (data / "dataset.yaml").write_text(yaml.safe_dump(spec))
    code, out = cli(*_entry_args(entry, data, run_dir, tmp_path))
    assert_bad_input(code, out, "split.proportions")


# ------------------------------------------------------------------------------------------------ config
@pytest.mark.parametrize("setting,key", [
    ("data.batch_size=0", "data.batch_size"),
    ("data.eval_batch_size=-3", "data.eval_batch_size"),
    ("train.epochs=0", "train.epochs"),
    ("train.epochs=-1", "train.epochs"),
    ("train.lr=.nan", "train.lr"),
    ("data.on_bad_rows=sometimes", "data.on_bad_rows"),
])
def test_bad_config_values_exit_2_naming_the_key(sim_dir: Path, tmp_path: Path, setting: str, key: str) -> None:
    code, out = cli("train", "--model", "dnn", "--data", sim_dir, "--out", tmp_path / "r", "--set", setting)
    assert_bad_input(code, out, key)


# ------------------------------------------------------------------------------------ run folders / resume
def _copy_run(run_dir: Path, tmp: Path) -> Path:
    dst = tmp / "run"
    shutil.copytree(run_dir, dst)
    return dst


class Foreign:  # a class torch's weights_only loader refuses
    pass


@pytest.mark.parametrize("probe", ["garbage", "truncated", "foreign pickle"])
def test_corrupt_checkpoint_on_resume_exits_2(run_dir: Path, sim_dir: Path, tmp_path: Path, probe: str) -> None:
    run = _copy_run(run_dir, tmp_path)
    ck = run / "checkpoints" / "last.pt"
    if probe == "garbage":
        _garbage(ck)
    elif probe == "truncated":
        _truncate(ck)
    else:
        ck.write_bytes(pickle.dumps({"model": Foreign()}))
    code, out = cli("train", "--model", "dnn", "--data", sim_dir, "--out", run, "--resume", *FAST)
    assert_bad_input(code, out, "last.pt", "not a unisr checkpoint")


def test_resume_with_another_model_config_exits_2(run_dir: Path, sim_dir: Path, tmp_path: Path) -> None:
    run = _copy_run(run_dir, tmp_path)
    code, out = cli("train", "--model", "dnn", "--data", sim_dir, "--out", run, "--resume", *FAST,
                    "--set", "model.hidden=[7]")
    assert_bad_input(code, out, "config.yaml", "model.hidden")


def test_resume_checkpoint_of_another_shape_exits_2(run_dir: Path, sim_dir: Path, tmp_path: Path) -> None:
    """A checkpoint whose tensors do not fit the model (config.yaml edited to agree): named with the tensor."""
    run = _copy_run(run_dir, tmp_path)
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    cfg["model"]["hidden"] = [5]
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    code, out = cli("train", "--model", "dnn", "--data", sim_dir, "--out", run, "--resume", *FAST,
                    "--set", "model.hidden=[5]")
    assert_bad_input(code, out, "last.pt", "does not match the model", "shape")


@pytest.mark.parametrize("probe", ["garbage", "truncated"])
def test_corrupt_weights_on_evaluate_exit_2(run_dir: Path, sim_dir: Path, tmp_path: Path, probe: str) -> None:
    run = _copy_run(run_dir, tmp_path)
    (_garbage if probe == "garbage" else _truncate)(run / "model.safetensors")
    code, out = cli("evaluate", "--run", run, "--data", sim_dir)
    assert_bad_input(code, out, "model.safetensors")


def test_evaluate_weights_of_another_config_exit_2(run_dir: Path, sim_dir: Path, tmp_path: Path) -> None:
    run = _copy_run(run_dir, tmp_path)
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    cfg["model"]["hidden"] = [5]
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    code, out = cli("evaluate", "--run", run, "--data", sim_dir)
    assert_bad_input(code, out, "model.safetensors", "does not match")


def test_evaluate_garbage_config_exits_2(run_dir: Path, sim_dir: Path, tmp_path: Path) -> None:
    run = _copy_run(run_dir, tmp_path)
    (run / "config.yaml").write_text("model: [unclosed")
    code, out = cli("evaluate", "--run", run, "--data", sim_dir)
    assert_bad_input(code, out, "config.yaml")


# ---------------------------------------------------------------------------------------------- --out
def _out_probe(tmp: Path, probe: str) -> Path:
    if probe == "a file":
        (tmp / "f").write_text("x")
        return tmp / "f"
    if probe == "under a file":
        (tmp / "f").write_text("x")
        return tmp / "f" / "sub"
    (tmp / "other").mkdir()
    (tmp / "other" / "notes.txt").write_text("mine")
    return tmp / "other"


@pytest.mark.parametrize("probe", ["a file", "under a file", "a non-run folder"])
@pytest.mark.parametrize("entry", ["train", "simulate", "data import", "graph build"])
def test_bad_out_paths_exit_2_naming_the_path(sim_dir: Path, tmp_path: Path, probe: str, entry: str) -> None:
    out = _out_probe(tmp_path, probe)
    args = {
        "train": ["train", "--model", "dnn", "--data", sim_dir, "--out", out, *FAST],
        "simulate": ["simulate", "--preset", "tiny", "--out", out, "--quiet"],
        "data import": ["data", "import", "movielens", "--src", tmp_path, "--out", out],
        "graph build": ["graph", "build", "--data", sim_dir, "--out", out],
    }[entry]
    code, out_text = cli(*args)
    assert_bad_input(code, out_text, str(out))
    if probe == "a non-run folder":
        assert (out / "notes.txt").read_text() == "mine"


def test_finished_run_needs_overwrite(run_dir: Path, sim_dir: Path, tmp_path: Path) -> None:
    run = _copy_run(run_dir, tmp_path)
    before = (run / "metrics.json").read_text()
    code, out = cli("train", "--model", "dnn", "--data", sim_dir, "--out", run, *FAST)
    assert_bad_input(code, out, str(run), "--overwrite")
    assert (run / "metrics.json").read_text() == before
    code, out = cli("train", "--model", "dnn", "--data", sim_dir, "--out", run, "--overwrite", *FAST)
    assert code == 0, out


# ------------------------------------------------------------------------------------ internal errors
def test_internal_error_exits_1_with_a_summary_line_first(tmp_path: Path) -> None:
    code = ("import sys; import unisr.cli.main as m\n"
            "def boom(): raise RuntimeError('kaput here')\n"
            "m.app = boom; sys.argv = ['unisr']; m.main()\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 1
    first = p.stderr.splitlines()[0]
    assert first.startswith("unisr: internal error") and "RuntimeError: kaput here" in first
    assert "Traceback" in p.stderr


# ------------------------------------------------------------------------------------ the property test
CORRUPTIONS = {
    "null": lambda d, col, r: d[col].__setitem__(r, None),
    "click": lambda d, col, r: d["click"].__setitem__(r, 3),
    "dangling": lambda d, col, r: d["item_id"].__setitem__(r, 10**13 + r),
    "dup": lambda d, col, r: d["event_id"].__setitem__(r, d["event_id"][(r + 1) % len(d["event_id"])]),
    "scenario": lambda d, col, r: d["scenario_id"].__setitem__(r, 777),
    "ts": lambda d, col, r: d["ts"].__setitem__(r, 2**62),
}
NULLABLE = ["event_id", "ts", "user_id", "scenario_id", "item_id", "click"]


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.tuples(st.sampled_from(sorted(CORRUPTIONS)), st.sampled_from(NULLABLE),
                          st.integers(0, 39_000)), min_size=1, max_size=6))
def test_random_corruptions_never_lose_a_row_or_give_a_non_finite_metric(ds, tmp_path_factory, edits) -> None:
    data = ds("prop")
    n = events_of(data).num_rows

    def edit(d: dict) -> None:
        for kind, col, r in edits:
            CORRUPTIONS[kind](d, col, r % n)

    rewrite_events(data, edit)
    out = tmp_path_factory.mktemp("prop") / "run"
    code, text = cli("train", "--model", "dnn", "--data", data, "--out", out, *FAST)
    if code != 0:
        assert_bad_input(code, text)  # allowed: a clear refusal, never a crash
        return
    m = json.loads((out / "metrics.json").read_text())
    assert sum(r["read"] for r in m["rows"].values()) == n
    for r in m["rows"].values():
        assert r["read"] == r["used"] + r["rejected"]
    rejected = sum(r["rejected"] for r in m["rows"].values())
    assert rejected >= 1
    assert (pq.read_table(out / "rejected.parquet").num_rows if rejected else 0) == rejected
    assert m["overall"]["n"] == m["rows"]["test"]["used"]
    for k in ("auc", "logloss", "gauc"):
        assert math.isfinite(m["overall"][k]), (k, m["overall"])


# ------------------------------------------------------------------------------------ importer values
ML_USERS = "1::F::1::10::48067\n2::M::56::16::70072\n3::M::25::15::55117\n"
ML_MOVIES = "1::Toy Story (1995)::Animation|Comedy\n2::Jumanji (1995)::Adventure\n"
ML_BAD_RATINGS = {  # line -> the reason it must be rejected for
    "1::1::9::978300760": "rating outside [0.5, 5.0]",
    "1::2::-4::978300761": "rating outside [0.5, 5.0]",
    "2::1::inf::978300762": "rating not finite",
    "2::2::4::inf": "timestamp not finite",
    "3::1::4::1e30": "timestamp outside",
    "3::2::4::-5": "timestamp outside",
}
ML_GOOD_RATINGS = ["1::1::5::978300770", "2::2::2::978300771", "3::1::4::978300772", "3::2::1::978300773"]


def _ml_src(tmp: Path, ratings: list[str]) -> Path:
    src = tmp / "ml"
    src.mkdir()
    (src / "users.dat").write_text(ML_USERS)
    (src / "movies.dat").write_text(ML_MOVIES)
    (src / "ratings.dat").write_text("".join(r + "\n" for r in ratings))
    return src


def test_movielens_values_out_of_range_are_rejected_with_reasons(tmp_path: Path) -> None:
    src = _ml_src(tmp_path, [*ML_BAD_RATINGS, *ML_GOOD_RATINGS])
    out = tmp_path / "out"
    code, text = cli("data", "import", "movielens", "--src", src, "--out", out)
    assert code == 0, text
    rej = pq.read_table(out / "rejected.parquet").to_pylist()
    reasons = {r["raw"]: r["reason"] for r in rej if r["source"] == "ratings.dat"}
    assert set(reasons) == set(ML_BAD_RATINGS)
    for raw, want in ML_BAD_RATINGS.items():
        assert reasons[raw].startswith(want), (raw, reasons[raw])
    ev = pq.read_table(out / "events.parquet")
    assert ev.num_rows == len(ML_GOOD_RATINGS)  # read = written + rejected
    assert set(ev["click"].to_pylist()) <= {0, 1}
    assert "6" in text and "rejected" in text
    code, text = cli("data", "validate", out)
    assert code == 0, text


@pytest.mark.parametrize("ratings", [[], ["", "   "], list(ML_BAD_RATINGS)])
def test_movielens_nothing_to_import_exits_2(tmp_path: Path, ratings: list[str]) -> None:
    src = _ml_src(tmp_path, ratings)
    code, text = cli("data", "import", "movielens", "--src", src, "--out", tmp_path / "out")
    assert_bad_input(code, text, "ratings.dat", "nothing to import")
