"""KuaiRand importer: the real Scenario-Wise Rec sample (tab = scenario) and a malformed fixture."""

from __future__ import annotations

from pathlib import Path

import pytest

from unisr.data.importers import import_kuairand
from unisr.data.importers.kuairand import EVENT_COLS, ITEM_COLS, USER_COLS
from unisr.data.schema import DatasetSpec

COLS = ["user_id", "video_id", "is_click", *EVENT_COLS, "tab", *USER_COLS, *ITEM_COLS]


@pytest.mark.shared_data
def test_real_sample(shared, import_validate, table) -> None:
    out, _ = import_validate("kuairand", shared("kuairand"))
    assert [s.name for s in DatasetSpec.load(out).scenarios] == ["tab=1"]
    events = table(out, "events")
    assert len(events) == 200 and sum(e["click"] for e in events) == 32
    assert "play_time_ms" in events[0] and "user_active_degree" in table(out, "users")[0]


def test_malformed_rows_rejected_with_reason(tmp_path: Path, reasons, unisr) -> None:
    src = tmp_path / "src"
    src.mkdir()
    ok = {c: "1" for c in COLS}

    def row(**kw: str) -> str:
        return ",".join({**ok, **kw}[c] for c in COLS)

    (src / "kuairand_1k.csv").write_text("\n".join([",".join(COLS), row(), row(tab="4", user_id="2"),
                                                    row(is_click="-1"), row(video_id="v9"), "1,2,3"]) + "\n")
    rep = import_kuairand(src, tmp_path / "out")
    assert rep.read == {"kuairand_1k.csv": 5} and rep.written == {"kuairand_1k.csv": 2} and rep.balanced
    assert reasons(tmp_path / "out") == {"is_click not 0 or 1": 1, "item id not an integer (video_id)": 1,
                                         "unparseable: wrong number of fields": 1}
    assert unisr("data", "validate", tmp_path / "out").returncode == 0
