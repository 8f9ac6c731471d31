"""Douban importer: the real Scenario-Wise Rec sample and a malformed fixture."""

from __future__ import annotations

from pathlib import Path

import pytest

from unisr.data.importers import import_douban

HEADER = "user_id,item_id,rating,domain,living_place,join_time,time_bin\n"


@pytest.mark.shared_data
def test_real_sample(shared, import_validate, table) -> None:
    out, printed = import_validate("douban", shared("douban"))
    assert "3,000" in printed
    events = table(out, "events")
    assert len(events) == 3000
    by_scen = {s: sum(e["scenario_id"] == s for e in events) for s in (0, 1, 2)}
    assert by_scen == {0: 364, 1: 2299, 2: 337}  # book, movie, music (counted in the CSV)
    assert sum(e["click"] for e in events) == 1936


def test_malformed_rows_rejected_with_reason(tmp_path: Path, reasons, unisr) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "douban.csv").write_text(HEADER + "\n".join([
        '1,10,1,book,"Paris, France",2007-07-10,27',
        "2,11,0,movie,x,2008-01-01,3",
        "3,12,2,movie,x,2008-01-01,3",
        "4,13,1,games,x,2008-01-01,3",
        "x,14,1,music,x,2008-01-01,3",
        "5,15,1,music",
        "6,16,1,music,x,2008-01-01,bin",
    ]) + "\n")
    rep = import_douban(src, tmp_path / "out")
    assert rep.read == {"douban.csv": 7} and rep.written == {"douban.csv": 2} and rep.balanced
    assert reasons(tmp_path / "out") == {
        "rating not 0 or 1": 1, "scenario value not one of domain ['book', 'movie', 'music']": 1,
        "user id not an integer (user_id)": 1, "unparseable: wrong number of fields": 1,
        "time_bin not of type int": 1}
    assert unisr("data", "validate", tmp_path / "out").returncode == 0


def test_missing_field_exit_2(tmp_path: Path, import_fails) -> None:
    (tmp_path / "douban.csv").write_text("user_id,item_id,domain\n1,2,book\n")
    import_fails("douban", tmp_path, "header lacks field(s) ['rating', ")
