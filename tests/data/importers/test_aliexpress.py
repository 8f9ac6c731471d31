"""AliExpress importer: the real MTReclib-layout samples (country = scenario) and a malformed fixture."""

from __future__ import annotations

from pathlib import Path

import pytest

from unisr.data.importers import import_aliexpress
from unisr.data.importers.aliexpress import EVENT_COLS, country
from unisr.data.schema import DatasetSpec

COLS = ["search_id", *EVENT_COLS, "click", "conversion"]


def test_country_from_path() -> None:
    assert country("AliExpress_US/train.csv") == "US" and country("aliexpress_nl_test.csv") == "NL"
    assert country("tiny_mtl_train.csv") == "unknown"


@pytest.mark.shared_data
def test_real_sample(shared, import_validate, table) -> None:
    out, _ = import_validate("aliexpress", shared("aliexpress"))
    spec = DatasetSpec.load(out)
    events = table(out, "events")
    n = {spec.scenario_names[s]: sum(e["scenario_id"] == s for e in events) for s in spec.scenario_names}
    assert n == {"country=US": 120, "country=unknown": 200}
    assert {"click", "conversion", "request_id", "categorical_1", "numerical_63"} <= set(events[0])
    assert all(e["conversion"] <= e["click"] for e in events)


def test_malformed_rows_rejected_with_reason(tmp_path: Path, reasons, unisr) -> None:
    src = tmp_path / "AliExpress_NL"
    src.mkdir()
    ok = {c: "1" for c in COLS} | {"conversion": "0"}

    def row(**kw: str) -> str:
        return ",".join({**ok, **kw}[c] for c in COLS)

    (src / "train.csv").write_text("\n".join([",".join(COLS), row(), row(click="0"), row(conversion="2"),
                                              row(numerical_5="n/a"), row(search_id="")]) + "\n")
    (src / "test.csv").write_text("\n".join([",".join(COLS), row(search_id="9")]) + "\n")
    rep = import_aliexpress(src, tmp_path / "out")
    assert rep.written == {"train.csv": 2, "test.csv": 1} and rep.balanced
    assert reasons(tmp_path / "out") == {"conversion not 0 or 1": 1, "numerical_5 not of type float": 1,
                                         "missing user id (search_id)": 1}
    assert unisr("data", "validate", tmp_path / "out").returncode == 0
