"""The suites on other public tables (``swr-aliccp``, ``swr-kuairand``, ``mtreclib-aliexpress``) end to end on the
real samples in ``../shared/data`` (not for metrics: one scenario, 100-200 rows), and ``bench/published.py``'s
shared pieces (row selection, scenario subset)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from rich.console import Console

from unisr.bench import published
from unisr.bench.matrix import RunSpec
from unisr.bench.registry import SUITES, SuiteError, load_builtin_suites
from unisr.bench.suite_mtreclib import PUBLISHED
from unisr.bench.suite_swr_public import ALICCP, KUAIRAND, KUAIRAND_TABS
from unisr.data.schema import DatasetSpec

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
QUICK = ["train.threads=1", "train.epochs=2"]


def _sample(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"real sample {path} absent (the suites' end-to-end tests read ../shared/data)")
    return path


def _suite(name: str):
    load_builtin_suites()
    return SUITES[name]


@pytest.mark.shared_data
def test_swr_aliccp_end_to_end_on_the_sample(tmp_path):
    res = _suite("swr-aliccp")(tmp_path, _sample("ali-ccp"), 1, QUICK, ["star", "m3oe"], Console(quiet=True))
    assert {r["run_name"] for r in res["runs"]} == {"star", "m3oe"}
    assert res["summary"]["star"]["published"] == {"auc": 0.6253} and res["summary"]["m3oe"]["published"] is None
    report = (tmp_path / "report.md").read_text()
    assert "Ali-CCP" in report and "0.6253" in report and "none published" in report
    cfg = (tmp_path / "runs" / "star" / "seed0" / "config.yaml").read_text()
    assert "- 256" in cfg and "patience: 5" in cfg  # the script's sizes and patience reached the run


@pytest.mark.shared_data
def test_swr_kuairand_end_to_end_keeps_the_protocols_tabs(tmp_path):
    res = _suite("swr-kuairand")(tmp_path, _sample("kuairand"), 1, QUICK, ["shared_bottom"], Console(quiet=True))
    kept = DatasetSpec.load(tmp_path / "data-tabs")
    assert {s.name for s in kept.scenarios} <= KUAIRAND_TABS and res["summary"]["shared_bottom"]["published"]


@pytest.mark.shared_data
def test_mtreclib_aliexpress_per_country_end_to_end(tmp_path):
    src = _sample("aliexpress")
    res = _suite("mtreclib-aliexpress")(tmp_path, src, 1, QUICK, ["shared_bottom", "m3oe"], Console(quiet=True))
    assert "US" in res["runs"]  # one model per country, each trained on its country alone
    for country, runs in res["runs"].items():
        spec = DatasetSpec.load(tmp_path / f"data-{country}")
        assert [s.name for s in spec.scenarios] == [f"country={country}"]
        assert {r["run_name"] for r in runs} == {"shared_bottom", "m3oe"}
    us = res["summary"]
    assert us["shared_bottom@US"]["published"] == PUBLISHED["US"]["shared_bottom"] and not us["shared_bottom@US"][
        "ctcvr_auc"]
    assert len(us["m3oe@US"]["ctcvr_auc"]) == 1  # M3oE predicts both tasks
    with pytest.raises(SuiteError, match="not in the data"):
        _suite("mtreclib-aliexpress")(tmp_path, src, 1, [*QUICK, "suite.countries=[NL]"], None, Console(quiet=True))


def test_a_missing_download_is_a_clear_error(tmp_path):
    with pytest.raises(SuiteError, match="pass the folder of Ali-CCP"):
        _suite("swr-aliccp")(tmp_path, None, 1, QUICK, None, Console(quiet=True))


def test_rows_are_declared_with_the_published_numbers():
    assert set(ALICCP.default) == set(ALICCP.published) == {"shared_bottom", "mmoe", "ple", "star", "m2m"}
    assert set(KUAIRAND.default) == set(KUAIRAND.published) == {"shared_bottom", "star", "m2m"}
    assert all(r.name in ALICCP.unpublished or r.name in ALICCP.published for r in ALICCP.rows)


def test_select_rows():
    rows = [RunSpec("a", "m1"), RunSpec("b", "m2"), RunSpec("b-diag", "m2")]
    assert [r.name for r in published.select_rows(rows, ["a", "b"], None, None)] == ["a", "b"]
    assert [r.name for r in published.select_rows(rows, ["a", "b"], ["m2"], None)] == ["b", "b-diag"]
    assert len(published.select_rows(rows, ["a"], None, ["b-diag"])) == 3  # rows_only: run_matrix picks
    with pytest.raises(SuiteError, match="none of this suite's rows"):
        published.select_rows(rows, ["a"], ["zzz"], None)


def test_subset_scenarios_streams_the_kept_events(tmp_path):
    from synth import make_dataset

    src = make_dataset(tmp_path / "src", n_events=3000, row_group_size=500)
    dest = published.subset_scenarios(src, lambda n: n != "scen1", tmp_path / "sub")
    spec = DatasetSpec.load(dest)
    assert [s.name for s in spec.scenarios] == ["scen0", "scen2"]
    ev = pq.read_table(dest / "events.parquet")
    full = pq.read_table(src / "events.parquet")
    assert set(ev["scenario_id"].to_pylist()) == {10, 12}
    assert ev.num_rows == sum(s != 11 for s in full["scenario_id"].to_pylist())
    assert (dest / "users.parquet").exists() and (dest / "items.parquet").exists()
    assert published.subset_scenarios(src, lambda n: False, tmp_path / "sub") == dest  # made once
    with pytest.raises(SuiteError, match="none of its scenarios"):
        published.subset_scenarios(src, lambda n: False, tmp_path / "none")
