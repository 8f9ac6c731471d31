"""Suite ``speed``: registered, runs the benchmark scripts (the simulator one for real, the others through a
stand-in runner), writes the report, and says why a peer or a benchmark is missing.

Shapes:
    (no tensors) benchmark results -> report tables
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from unisr.bench.registry import SUITES, SuiteError, load_builtin_suites
from unisr.bench.suite_speed import BENCHMARKS, SCRIPTS_DIR, commands, speed

QUIET = Console(quiet=True)

TRAIN_RESULT = {
    "torch_rechub": None, "torch_rechub_error": "ModuleNotFoundError: No module named 'torch_rechub'",
    "cases": [
        {"case": "ours-sparse mmoe b1024", "group": "mmoe", "median_samples_per_s": 51234.0, "median_step_ms": 20.0},
        {"case": "roofline", "group": "matmul", "median_samples_per_s": None, "median_step_ms": 3.0},
    ],
    "ratios": [],
}
GRAPH_RESULT = {"peer": {"available": False, "why_not": "torch_geometric not importable"}, "graph": {"users": 10},
                "cases": {"ours uniform 2-hop [10,10]": {"seeds_per_s": 1000, "neighbours_per_s": 2e6}}}
SIM_RESULT = {"preset": "tiny", "events": 100, "events_per_second": 1000, "seconds_in_simulate": 0.1,
              "peak_rss_child_gib": 0.1, "peak_pss_process_tree_gib": 0.1}


def fake_runner(fail: set[str] = frozenset()):
    calls = []

    def run(argv, json_file, timeout, cwd):
        calls.append(argv)
        name = Path(argv[1]).name
        if any(f in name for f in fail):
            return {"status": "failed", "reason": "exit 1: boom", "seconds": 0.1}
        result = {"train_throughput.py": TRAIN_RESULT, "graph_sampling.py": GRAPH_RESULT,
                  "simulate_throughput.py": SIM_RESULT}[name]
        return {"status": "ok", "seconds": 0.5, "result": result}

    return run, calls


def test_registered_with_the_other_suites() -> None:
    load_builtin_suites()
    assert "speed" in SUITES


def test_every_benchmark_script_exists() -> None:
    for argv, _, _ in commands(Path("/tmp/x"), {"scale": 1.0, "preset": "tiny", "timeout": 60}).values():
        assert Path(argv[1]).is_file() and Path(argv[1]).parent == SCRIPTS_DIR


def test_report_names_skipped_peers_and_failures(tmp_path: Path) -> None:
    run, calls = fake_runner(fail={"graph_sampling"})
    res = speed(tmp_path, None, 1, [], None, QUIET, runner=run)
    assert [Path(a[1]).name for a in calls] == ["train_throughput.py", "graph_sampling.py", "simulate_throughput.py"]
    b = res["benchmarks"]
    assert b["training"]["status"] == "ok" and b["simulator"]["status"] == "ok"
    assert b["sampling"] == {**b["sampling"], "status": "failed", "reason": "exit 1: boom"}
    md = (tmp_path / "report.md").read_text()
    assert "torch-rechub: skipped: ModuleNotFoundError" in md and "51,234" in md and "boom" in md
    assert json.loads((tmp_path / "results.json").read_text())["suite"] == "speed"
    assert (tmp_path / "report.html").exists()


def test_subset_and_bad_options(tmp_path: Path) -> None:
    run, calls = fake_runner()
    speed(tmp_path, None, 1, ["speed.scale=0.5"], ["simulator"], QUIET, runner=run)
    assert len(calls) == 1
    for sets, models in ([["speed.scale=0"], None], [["speed.bogus=1"], None], [["train.lr=1"], None],
                         [[], ["nope"]]):
        with pytest.raises(SuiteError):
            speed(tmp_path, None, 1, sets, models, QUIET, runner=run)


def test_scale_changes_the_work(tmp_path: Path) -> None:
    small = commands(tmp_path, {"scale": 1.0, "preset": "tiny", "timeout": 60})["sampling"][0]
    big = commands(tmp_path, {"scale": 4.0, "preset": "tiny", "timeout": 60})["sampling"][0]
    assert int(big[big.index("--edges") + 1]) == 4 * int(small[small.index("--edges") + 1])
    assert set(BENCHMARKS) == {"training", "sampling", "simulator"}


def test_simulator_benchmark_runs_for_real(tmp_path: Path) -> None:
    res = speed(tmp_path, None, 1, ["speed.preset=tiny"], ["simulator"], QUIET)
    sim = res["benchmarks"]["simulator"]
    assert sim["status"] == "ok", sim
    assert sim["result"]["events"] > 0 and sim["result"]["events_per_second"] > 0
