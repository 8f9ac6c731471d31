"""Tests of ``unisr.bench.page``: docs/BENCHMARKS.md is what the page command writes from benchmarks/results/, and
every number of its summary table comes from an output file."""

from __future__ import annotations

import json
import re
from pathlib import Path

from unisr.bench.page import FORMAT, load, publish, render, write_page
from unisr.bench.report import ReportTable

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def _values(obj) -> list[float]:
    """Every number in an output file: JSON numbers and the numbers written in its strings."""
    if isinstance(obj, bool):
        return []
    if isinstance(obj, int | float):
        return [float(obj)]
    if isinstance(obj, str):
        return [float(t.replace(",", "")) for t in NUMBER.findall(obj)]
    if isinstance(obj, dict):
        return [v for x in obj.values() for v in _values(x)]
    if isinstance(obj, list):
        return [v for x in obj for v in _values(x)]
    return []


def _found(token: str, values: list[float]) -> bool:
    """``token`` (as printed, e.g. ``45,945`` or ``0.8143``) is one of ``values`` at the printed precision."""
    digits = len(token.split(".")[1]) if "." in token else 0
    x = float(token.replace(",", ""))
    return any(round(v, digits) == x for v in values)


def test_the_committed_page_is_the_commands_output():
    assert (ROOT / "docs" / "BENCHMARKS.md").read_text() == render(RESULTS), (
        "docs/BENCHMARKS.md differs from `unisr benchmark --page` (make benchmarks-page): edit the output files in "
        "benchmarks/results/ (or re-run the benchmark), then the command; never the page")


def test_every_summary_figure_comes_from_its_output_file():
    items = load(RESULTS)
    # the page holds current figures only: ~30 lines per benchmark at most (14 benchmarks: 429 lines)
    assert len(items) >= 10 and len(render(RESULTS).splitlines()) <= 32 * len(items)
    lines = render(RESULTS).splitlines()
    start = lines.index("| benchmark | current figure | goal | command | date | machine |") + 2
    rows = lines[start:start + len(items)]
    for item, row in zip(items, rows, strict=True):
        raw = json.loads((RESULTS / f"{item['benchmark']}.json").read_text())
        source = _values({k: v for k, v in raw.items() if k != "figure"})
        figure = row.split(" | ")[1]
        missing = [t for t in NUMBER.findall(figure) if not _found(t, source)]
        assert not missing, f"{item['benchmark']}: {missing} of {figure!r} are in no table or note of its file"
        assert item.get("command") and item.get("date") and item.get("machine"), item["benchmark"]


def test_publish_keeps_when_and_where_and_renders(tmp_path):
    out = tmp_path / "results"
    out.mkdir()
    (out / "x.json").write_text(json.dumps({"date": "2026-01-01", "machine": "box", "figure": "old"}))
    md = tmp_path / "report.md"
    md.write_text("# full report\n")
    t = ReportTable("Table 9", ["model", "AUC"], [["a", "0.6000 ± 0.0010"]], "a note")
    publish(out / "x.json", "x suite", "a 0.6000", [t], ["claim: holds (0.6000)"], {"goal": "g", "command": "c"}, md)
    data = json.loads((out / "x.json").read_text())
    assert data["format"] == FORMAT and data["date"] == "2026-01-01" and data["machine"] == "box"
    assert data["figure"] == "a 0.6000" and data["tables"][0]["rows"] == [["a", "0.6000 ± 0.0010"]]
    assert (out / "x.md").read_text() == "# full report\n" and data["report"] == str(out / "x.md")
    n = write_page(out, tmp_path / "page.md")
    page = (tmp_path / "page.md").read_text()
    assert n == page.count("\n") and "| x suite | a 0.6000 | g | `c` | 2026-01-01 | box |" in page
    assert "**Table 9**" in page and "- claim: holds (0.6000)" in page and "| a | 0.6000 ± 0.0010 |" in page


def test_a_script_with_its_own_layout_goes_through_its_view(tmp_path):
    raw = {"benchmark": "sparse_threshold", "date": "d", "command": "c", "machine": {"cpu": "EPYC", "nproc": 2},
           "crossover_rows": {"dnn": 45945.4}, "recommended_rows": 70000, "sparse_auto_rows": 100000,
           "cases": [{"model": "dnn", "model_table_rows": 10007, "dense_samples_per_s": 48090.2,
                      "sparse_samples_per_s": 40233.1, "sparse_over_dense": 0.8366}]}
    (tmp_path / "sparse_threshold.json").write_text(json.dumps(raw))
    page = render(tmp_path)
    assert "dnn crossover 45,945 rows; threshold 70,000 rows (was 100,000)" in page
    assert "| dnn | 45,945 | 10,007: 0.84 |" in page and "EPYC, 2 cores" in page


def test_a_script_run_updates_its_rows_and_keeps_the_rest(tmp_path):
    from unisr.bench.page import update_result

    f = tmp_path / "simulator.json"
    header = ["preset", "events/s"]
    update_result(f, {"command": "a", "date": "d1"}, header, [["small", "211 000"], ["large", "230 000"]])
    data = update_result(f, {"command": "b", "date": "d2", "figure": "fig"}, header, [["small", "250,000"]])
    assert data["tables"][0]["rows"] == [["large", "230 000"], ["small", "250,000"]]
    assert (data["command"], data["date"], data["figure"], data["format"]) == ("b", "d2", "fig", FORMAT)
    assert json.loads(f.read_text()) == data
    other = update_result(f, {}, ["model", "x"], [["dnn", "1"]])  # another header: a new table
    assert other["tables"][0] == {"header": ["model", "x"], "rows": [["dnn", "1"]]}


def test_the_mechanisms_view_counts_checks_that_gain_more_on_than_off_in_every_seed():
    from unisr.bench.page import VIEWS

    def res(gain: float) -> dict:
        return {"auc_without": 0.7, "auc_with": 0.7 + gain, "gain": gain, "gain_se": 0.001}

    raw = {"seeds": [0, 1], "machine": {"cpu": "x", "nproc": 2}, "mechanisms": {
        "a": {"0": {"on": res(0.01), "off": res(0.0)}, "1": {"on": res(0.02), "off": res(0.001)}},
        "b": {"0": {"on": {"search": res(0.01), "search_old": res(0.0)}, "off": {"search": res(0.0), "search_old": res(0.0)}},
              "1": {"on": {"search": res(0.0), "search_old": res(0.0)}, "off": {"search": res(0.01), "search_old": res(0.0)}}}}}
    view = VIEWS["mechanisms"](raw)
    assert view["figure"].startswith("1 of 2 checks")  # b/search loses in seed 1; b/search_old is not a check
    rows = view["tables"][0]["rows"]
    assert [r[:2] for r in rows] == [["a", "-"], ["b", "search"], ["b", "search_old"]]
    assert rows[0][3] == "+0.0100 (0.0010) / +0.0200 (0.0010)"
