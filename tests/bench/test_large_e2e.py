"""The large-preset end-to-end benchmark (``benchmarks/large_e2e.py``), run for real on the tiny preset: every
stage a subprocess of the CLI under ``/usr/bin/time`` (or the rusage wrapper), its wall time and peak RSS
recorded, the results file in the benchmarks' format."""

from __future__ import annotations

import json
from pathlib import Path

from synth import load_benchmark


def _bench():
    return load_benchmark("large_e2e")


def test_time_v_report_is_parsed():
    text = ("\tUser time (seconds): 12.50\n\tSystem time (seconds): 1.25\n"
            "\tMaximum resident set size (kbytes): 2097152\n\tExit status: 0\n")
    assert _bench().parse_time_v(text) == {"maxrss_kib": 2097152.0, "user_s": 12.5, "sys_s": 1.25}


def test_the_tiny_preset_end_to_end(tmp_path: Path):
    from unisr.bench.page import FORMAT

    out = tmp_path / "large-e2e.json"
    data = tmp_path / "data"
    res = _bench().main(["--preset", "tiny", "--data", str(data), "--models", "srjgraph", "--steps", "2",
                         "--out", str(out)])
    assert out.is_file() and json.loads(out.read_text())["stages"] == json.loads(json.dumps(res["stages"]))
    assert res["format"] == FORMAT and res["benchmark"] == "large-e2e"
    stages = res["stages"]
    assert list(stages) == ["simulate", "graph", "train-srjgraph", "evaluate-srjgraph"]
    for name, rec in stages.items():
        assert rec["rc"] == 0, (name, rec.get("error_tail"))
        assert rec["wall_s"] > 0 and 0 < rec["peak_rss_bytes"] < 6 * 1024 ** 3, name
        assert rec["peak_rss_gib"] > 0.05  # at least the interpreter and its imports
        assert rec["user_s"] is not None and rec["user_s"] > 0
        assert len(rec["loadavg_start"]) == 3
        assert not (tmp_path / "e2e" / "stages" / f"{name}.running.json").exists()
    assert stages["simulate"]["rows"] == res["data"]["events"] > 10_000  # tiny: <= 100k events
    assert stages["graph"]["rows"] > 0 and (data / "graph" / "manifest.json").is_file()
    train = stages["train-srjgraph"]
    assert train["train_rows"] > 0 and train["test_n"] > 0 and 0.0 < train["test_auc"] < 1.0
    assert train["split_rows"]["test"] == train["test_n"]
    # one table row per stage, in order, with the stage's status
    rows = res["tables"][0]["rows"]
    assert [r[0].split(" (")[0] for r in rows] == list(stages) and all(r[-1] == "ok" for r in rows)
    assert rows[2][0] == "train-srjgraph (inputs v3)" and "completed stages" in res["figure"]
