"""MIND importer: the real Scenario-Wise Rec sample (category = scenario) and a malformed fixture."""

from __future__ import annotations

from pathlib import Path

import pytest

from unisr.data.importers import import_mind
from unisr.data.schema import DatasetSpec


@pytest.mark.shared_data
def test_real_sample(shared, import_validate, table) -> None:
    out, _ = import_validate("mind", shared("mind"))
    spec = DatasetSpec.load(out)
    events = table(out, "events")
    counts = {spec.scenario_names[s]: sum(e["scenario_id"] == s for e in events) for s in spec.scenario_names}
    assert counts == {"category=finance": 1265, "category=lifestyle": 1565, "category=news": 3742,
                      "category=sports": 1428}
    assert sum(e["click"] for e in events) == 363
    items = table(out, "items")
    assert len({i["item_id"] for i in items}) == len(items) and {"Category", "SubCategory"} <= set(items[0])


def test_malformed_rows_rejected_with_reason(tmp_path: Path, reasons, unisr) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "mind.csv").write_text("User_ID,News_ID,label,Category,SubCategory\n"
                                  "U1,N1,1,news,a\nU2,N1,0,sports,b\n,N2,0,news,a\nU3,N3,yes,news,a\nU4,N4\nU5,N5,1,,a\n")
    rep = import_mind(src, tmp_path / "out")
    assert rep.read == {"mind.csv": 6} and rep.written == {"mind.csv": 2} and rep.balanced
    assert reasons(tmp_path / "out") == {"missing user id (User_ID)": 1, "label not 0 or 1": 1,
                                         "unparseable: wrong number of fields": 1, "missing scenario (Category)": 1}
    assert unisr("data", "validate", tmp_path / "out").returncode == 0


def test_nothing_usable_exit_2(tmp_path: Path, import_fails) -> None:
    (tmp_path / "mind.csv").write_text("User_ID,News_ID,label,Category,SubCategory\nU1,N1,7,news,a\n")
    import_fails("mind", tmp_path, "nothing to import")
