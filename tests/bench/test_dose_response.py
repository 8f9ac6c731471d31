"""Dose-response tests (bench/dose_response.py, issue 33): the treems suite's claim declarations, the off data
(the strength override reaches the simulator), the gains and paired tests on hand-made run results, and the suite
end to end on the tiny simulation."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from unisr.bench.dose_response import (
    DoseClaim,
    data_version,
    dose_row,
    dose_table,
    ensure_off_data,
    mechanism_names,
    off_config,
    off_record,
)
from unisr.bench.registry import SuiteError
from unisr.evaluate.stats import paired_ttest

CLAIM = DoseClaim("tree", "the tree helps", "leaf_specificity", "A", "A-no-tree")


def _runs(row: str, values: list[float], seeds: list[int] | None = None) -> list[dict]:
    return [{"run_name": row, "run_seed": s, "overall": {"auc": v}}
            for s, v in zip(seeds if seeds is not None else range(len(values)), values, strict=True)]


def _mechanisms(data: Path) -> dict:
    return yaml.safe_load((data / "dataset.yaml").read_text())["simulator"]["config"]["mechanisms"]


# ---------------------------------------------------------------------------------------------- declarations
def test_treems_claims_name_real_mechanisms_and_rows_that_differ_in_the_claimed_part_only():
    from unisr.bench.suite_treems import DOSE_CLAIMS, SWITCH_ROWS, TABLE2_ROWS

    rows = {r.name: r for r in [*TABLE2_ROWS, *SWITCH_ROWS]}
    assert {c.mechanism for c in DOSE_CLAIMS} == {"leaf_specificity", "social_diffusion"}
    assert set(mechanism_names()) >= {"leaf_specificity", "social_diffusion", "view_conversion", "cross_overlap"}
    part = {"leaf_specificity": "model.use_tree", "social_diffusion": "model.use_graph"}
    for c in DOSE_CLAIMS:
        assert rows[c.with_row].overrides == ()  # TreeMS as registered
        assert [(o.key, o.value) for o in rows[c.without_row].overrides] == [(part[c.mechanism], False)]
        assert c.metric == "auc"


def test_the_v2_budget_stops_early_and_v1_keeps_the_recorded_one(tmp_path: Path):
    from unisr.bench.suite_treems import NO_EARLY_STOP, V2_BUDGET, run_sets

    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "dataset.yaml").write_text(yaml.safe_dump({"simulator": {"version": 2, "config": {}}}))
    v1 = tmp_path / "v1"
    v1.mkdir()
    (v1 / "dataset.yaml").write_text(yaml.safe_dump({"simulator": {"config": {}}}))  # no version: v1
    assert data_version(v2) == 2 and data_version(v1) == 1 and data_version(tmp_path) == 1
    keys = {o.key: o.value for o in run_sets(v2, [])}
    assert keys["train.patience"] < 20 and keys["train.epochs"] >= 60
    assert {o.key: o.value for o in V2_BUDGET} == {"train.epochs": keys["train.epochs"],
                                                   "train.patience": keys["train.patience"]}
    assert NO_EARLY_STOP in run_sets(v1, []) and V2_BUDGET[1] not in run_sets(v1, [])


# ---------------------------------------------------------------------------------------------- the off data
def test_the_off_data_is_the_same_simulation_with_one_strength_at_zero(sim_dir: Path, tmp_path: Path):
    on = _mechanisms(sim_dir)
    assert on["leaf_specificity"]["strength"] > 0
    off = ensure_off_data(sim_dir, "leaf_specificity", tmp_path / "off")
    meta_on = yaml.safe_load((sim_dir / "dataset.yaml").read_text())["simulator"]
    meta_off = yaml.safe_load((off / "dataset.yaml").read_text())["simulator"]
    assert meta_off["config"]["mechanisms"]["leaf_specificity"]["strength"] == 0.0  # the override reached it
    assert meta_off["seed"] == meta_on["seed"] and meta_off["preset"] == meta_on["preset"]
    meta_off["config"]["mechanisms"]["leaf_specificity"]["strength"] = on["leaf_specificity"]["strength"]
    assert meta_off["config"] == meta_on["config"]  # everything else equal (n_events=40000 of the fixture too)
    from unisr.bench.fingerprint import data_fingerprint

    assert data_fingerprint(off) != data_fingerprint(sim_dir)  # simulated, and other data than the on data's
    mtime = (off / "events.parquet").stat().st_mtime_ns
    assert ensure_off_data(sim_dir, "leaf_specificity", off) == off  # reused, not simulated again
    assert (off / "events.parquet").stat().st_mtime_ns == mtime
    with pytest.raises(SuiteError, match="another simulation"):
        ensure_off_data(sim_dir, "social_diffusion", off)  # the folder holds the other mechanism's off data
    with pytest.raises(SuiteError, match="already 0"):
        off_config(off, "leaf_specificity")
    assert off_record("benchmarks/records/treems_v2", "leaf_specificity") == Path(
        "benchmarks/records/treems_v2-off/leaf_specificity")
    assert off_record("", "leaf_specificity") is None


def test_off_data_refuses_v1_and_unknown_mechanisms(tmp_path: Path):
    (tmp_path / "dataset.yaml").write_text(yaml.safe_dump({"simulator": {"seed": 0, "config": {"name": "sim"}}}))
    with pytest.raises(SuiteError, match="data version 1"):
        off_config(tmp_path, "leaf_specificity")
    with pytest.raises(SuiteError, match="unknown; the simulator's mechanisms"):
        off_config(tmp_path, "leaf_specifity")
    (tmp_path / "dataset.yaml").write_text(yaml.safe_dump({"name": "x"}))
    with pytest.raises(SuiteError, match="no simulator"):
        off_config(tmp_path, "leaf_specificity")


# ---------------------------------------------------------------------------------------------- the numbers
def test_gains_and_paired_tests_on_hand_made_runs():
    a_on, b_on = [0.760, 0.765, 0.770], [0.750, 0.752, 0.761]
    a_off, b_off = [0.750, 0.756, 0.760], [0.751, 0.754, 0.761]
    on = _runs("A", a_on) + _runs("A-no-tree", b_on)
    off = _runs("A", a_off) + _runs("A-no-tree", b_off)
    r = dose_row(CLAIM, on, off)
    assert r.on.gain == pytest.approx((0.010 + 0.013 + 0.009) / 3)
    assert r.off.gain == pytest.approx((-0.001 + 0.002 - 0.001) / 3)
    t, p = paired_ttest(a_on, b_on)
    assert (r.on.comparison.t, r.on.comparison.p) == pytest.approx((t, p)) and p < 0.05
    assert r.on.comparison.ok and not r.off.comparison.ok
    t_i, p_i = paired_ttest([0.010, 0.013, 0.009], [-0.001, 0.002, -0.001])
    assert (r.interaction.t, r.interaction.p) == pytest.approx((t_i, p_i))
    assert (r.verdict, r.reason) == ("holds", "gains with the mechanism, not without")
    table = dose_table([r], 3)
    assert table.rows[0][3] == "+0.0107" and table.rows[0][-1].startswith("holds")

    # the same gain when off too: the gain is not the mechanism's
    r2 = dose_row(CLAIM, on, on)
    assert (r2.verdict, r2.reason) == ("does not hold", "gains without the mechanism too")
    # no gain when on
    r3 = dose_row(CLAIM, off, off)
    assert (r3.verdict, r3.reason) == ("does not hold", "no gain with the mechanism")
    r4 = dose_row(CLAIM, off, on)
    assert r4.verdict == "does not hold" and r4.reason.startswith("no gain with the mechanism, a gain without")


def test_gains_pair_by_seed_and_missing_runs_give_na():
    on = _runs("A", [0.77, 0.76, 0.78], [0, 1, 2]) + _runs("A-no-tree", [0.75, 0.75], [2, 0])
    off = _runs("A", [0.75]) + _runs("A-no-tree", [0.75])
    r = dose_row(CLAIM, on, off)
    assert r.on.gains == {0: pytest.approx(0.02), 2: pytest.approx(0.03)}  # seed 1 has no partner
    assert "over the 2 seeds both have" in r.on.comparison.text
    assert r.off.gains == {0: 0.0} and math.isnan(r.off.comparison.p)
    none = dose_row(CLAIM, on, _runs("A", [0.7]))
    assert none.verdict == "n/a" and "off data" in none.reason


# ---------------------------------------------------------------------------------------------- end to end
def test_treems_suite_dose_response_end_to_end_on_tiny(sim_dir: Path, tmp_path: Path):
    from unisr.bench.fingerprint import data_fingerprint
    from unisr.bench.page import load, render
    from unisr.bench.registry import SUITES, load_builtin_suites

    load_builtin_suites()
    out, rec, pub = tmp_path / "suite", tmp_path / "rec" / "treems_v2", tmp_path / "results" / "treems-dose.json"
    ceil = tmp_path / "ceil.json"
    ceil.write_text(json.dumps({"data": data_fingerprint(sim_dir), "scenarios": {"share": {
        "auc_no_position": 0.7, "auc_position": 0.72, "oracle_auc": 0.8, "events": {"test": 10}, "test_clicks": 2}}}))
    sets = ["suite.dose_response=true", "suite.dose_claims=[tree]", "suite.figures=false", f"suite.record={rec}",
            f"suite.dose_publish={pub}", f"suite.ceilings=[{ceil}]", "train.epochs=1", "train.threads=1"]
    res = SUITES["treems"](out=out, data=sim_dir, seeds=1, sets=sets, models=["TreeMS", "TreeMS-no-tree"],
                           console=Console(quiet=True))
    dose = res["summary"]["dose_response"]
    assert list(dose) == ["tree"] and dose["tree"]["mechanism"] == "leaf_specificity"
    off = out / "dose" / "leaf_specificity-off"
    assert _mechanisms(off / "data")["leaf_specificity"]["strength"] == 0.0
    assert sorted(p.parent.parent.name for p in (off / "runs").glob("*/seed0/metrics.json")) == [
        "TreeMS", "TreeMS-no-tree"]
    assert not (out / "dose" / "social_diffusion-off").exists()  # only the claims asked for
    g = dose["tree"]
    assert g["on"]["gain"] == pytest.approx(g["on"]["with"][0] - g["on"]["without"][0])
    assert g["off"]["gain"] == pytest.approx(g["off"]["with"][0] - g["off"]["without"][0])
    # records: the on data's in suite.record, the off data's beside it, each with its own data fingerprint
    fps = {json.loads(f.read_text())["data"] for f in rec.rglob("record.json")}
    off_fps = {json.loads(f.read_text())["data"] for f in (rec.parent / "treems_v2-off").rglob("record.json")}
    assert fps == {data_fingerprint(sim_dir)} and off_fps == {data_fingerprint(off / "data")}
    report = (out / "report.md").read_text()
    assert "Dose-response" in report and "Ceilings of each data" in report and "0.7000 / 0.7200" in report
    assert any(c.startswith("[dose-response] the scenario tree helps TreeMS") for c in res["claims"])
    page = load(pub.parent)[0]
    assert page["tables"][0]["rows"][0][1] == "leaf_specificity" and "dose-response" in render(pub.parent)
    assert page["date"] and page["machine"]["nproc"] and page["command"]
    # from the records alone (nothing trained): the same numbers
    res2 = SUITES["treems"](out=tmp_path / "again", data=sim_dir, seeds=1, sets=[*sets, "suite.train=false"],
                            models=["TreeMS", "TreeMS-no-tree"], console=Console(quiet=True))
    assert res2["summary"]["dose_response"]["tree"]["on"]["gain"] == pytest.approx(g["on"]["gain"])
    assert res2["summary"]["dose_response"]["tree"]["off"]["gain"] == pytest.approx(g["off"]["gain"])
