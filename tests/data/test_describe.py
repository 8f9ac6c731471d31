"""``describe_dataset`` on the tiny canonical dataset (12 events, scenario = row % 3, click on even rows)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from unisr.data.describe import describe_dataset


def test_describe_tiny(tiny_dataset: Path) -> None:
    d = describe_dataset(tiny_dataset)
    assert d["name"] == "tiny"
    assert (d["rows"], d["users"], d["items"], d["queries"]) == (12, 4, 5, 3)
    assert (d["active_users"], d["active_items"]) == (4, 5)
    assert d["click_rate"] == pytest.approx(0.5)
    assert d["conversion_rate"] == pytest.approx(3 / 12)  # rows 0, 4, 8
    assert d["time_range"]["min_ts"] == 1_700_000_000
    assert d["time_range"]["max_ts"] == 1_700_000_000 + 60 * 11
    assert d["time_range"]["start"] == "2023-11-14T22:13:20Z"
    assert [(s["id"], s["name"], s["kind"], s["events"]) for s in d["scenarios"]] == [
        (0, "rec", "recommend", 4), (1, "search", "search_text", 4), (2, "share", "share", 4)]
    assert sum(s["share"] for s in d["scenarios"]) == pytest.approx(1.0)
    # scenario 0 = rows 0,3,6,9 -> clicks on 0 and 6
    assert d["scenarios"][0]["click_rate"] == pytest.approx(0.5)
    assert d["splits"] == {"test": 2, "train": 8, "valid": 2}


def test_describe_parts_and_empty_scenario(write_dataset: Callable[..., Path], canonical_spec: dict) -> None:
    canonical_spec["scenarios"].append({"id": 9, "name": "unused", "kind": "recommend"})
    d = describe_dataset(write_dataset(spec=canonical_spec, events_parts=3))
    assert d["rows"] == 12
    unused = d["scenarios"][-1]
    assert (unused["id"], unused["events"], unused["share"], unused["click_rate"]) == (9, 0, 0.0, None)


def test_describe_without_optional_tables(write_dataset: Callable[..., Path], canonical_tables: dict) -> None:
    canonical_tables["queries"] = None
    canonical_tables["events"] = canonical_tables["events"].drop_columns(["conversion", "split"])
    d = describe_dataset(write_dataset(canonical_tables))
    assert d["queries"] == 0 and "conversion_rate" not in d and "splits" not in d
