"""Ali-CCP importer: the real AITM and torch-rechub samples, a raw Tianchi fixture in the published schema, and
malformed rows of each."""

from __future__ import annotations

from pathlib import Path

import pytest

from unisr.data.importers import ImportSourceError, import_aliccp
from unisr.data.schema import DatasetSpec


@pytest.mark.shared_data
def test_real_aitm(shared, import_validate, table) -> None:
    out, _ = import_validate("aliccp", shared("ali-ccp"), "--layout", "aitm")
    events = table(out, "events")
    assert len(events) == 98  # 48 train (with header) + 50 test (no header)
    assert {e["split"] for e in events} == {"train", "valid", "test"}
    assert sorted(s.name for s in DatasetSpec.load(out).scenarios) == ["301=1", "301=2", "301=3"]
    assert {"508", "853"} <= set(events[0]) and "121" in table(out, "users")[0]


@pytest.mark.shared_data
def test_real_rechub(shared, import_validate, table) -> None:
    out, printed = import_validate("aliccp", shared("ali-ccp"))
    assert "rechub" in printed
    events = table(out, "events")
    assert len(events) == 200 and {e["split"] for e in events} == {"train", "valid", "test"}
    assert {"D508", "conversion"} <= set(events[0]) and "109_14" in table(out, "users")[0]


HEAD = "click,purchase,101,121,122,124,125,126,127,128,129,205,206,207,216,508,509,702,853,301\n"


def test_aitm_malformed(tmp_path: Path, reasons, unisr) -> None:
    src = tmp_path / "src"
    src.mkdir()
    row = "0,0,85077,60,5,2,5,0,1,2,1,303983,3751,249750,4124,5565,0,0,6260,"
    (src / "aitm_train.csv").write_text(HEAD + row + "2\n" + row + "4\n" + row.replace("85077", "u") + "1\n")
    (src / "aitm_test.csv").write_text("1,1" + row[3:] + "3\n0,0,1\n")
    rep = import_aliccp(src, tmp_path / "out")
    assert rep.read == {"aitm_train.csv": 3, "aitm_test.csv": 2} and rep.balanced
    assert reasons(tmp_path / "out") == {"scenario value not one of 301 ['1', '2', '3']": 1,
                                         "user id not an integer (101)": 1, "unparseable: wrong number of fields": 1}
    assert unisr("data", "validate", tmp_path / "out").returncode == 0


def _features(pairs: list[tuple[str, int]]) -> str:
    return "\x01".join(f"{f}\x02{v}\x031.0" for f, v in pairs)


def _tianchi(src: Path) -> None:
    """Two common-feature rows (users 7 and 8) and five skeleton rows: three usable, one unknown md5, one
    without field 205."""
    src.mkdir()
    user = [("121", 11), ("122", 12), ("124", 14), ("125", 15), ("126", 16), ("127", 17), ("128", 18), ("129", 19)]
    common = [("m1", [("101", 7), *user, ("109_14", 5), ("109_14", 6)]), ("m2", [("101", 8), *user])]
    (src / "common_features_train.csv").write_text(
        "".join(f"{m},{len(f)},{_features(f)}\n" for m, f in common))
    item = [("206", 1), ("207", 2), ("210", 3), ("216", 4), ("508", 5), ("509", 6), ("702", 7), ("853", 8)]
    rows = [(1, 1, 0, "m1", [("205", 100), ("301", 9001), *item]),
            (2, 0, 0, "m2", [("205", 101), ("301", 9002), *item]),
            (3, 1, 1, "m1", [("205", 100), ("301", 9001), *item]),
            (4, 0, 0, "zz", [("205", 102), ("301", 9001), *item]),
            (5, 0, 0, "m2", [("301", 9001), *item])]
    (src / "sample_skeleton_train.csv").write_text(
        "".join(f"{i},{c},{b},{m},{len(f)},{_features(f)}\n" for i, c, b, m, f in rows) + "6,0\n")


def test_tianchi_fixture(tmp_path: Path, reasons, table, import_validate) -> None:
    src = tmp_path / "raw"
    _tianchi(src)
    out, _ = import_validate("aliccp", src)
    rep = import_aliccp(src, tmp_path / "again")
    assert rep.variant == "tianchi" and rep.balanced
    assert rep.read == {"common_features_train.csv": 2, "sample_skeleton_train.csv": 6}
    assert rep.written == {"common_features_train.csv": 2, "sample_skeleton_train.csv": 3}
    assert reasons(out) == {"md5 not in common_features (no user)": 1, "missing item id (field 205)": 1,
                            "unparseable: wrong number of fields": 1}
    events = table(out, "events")
    assert [(e["user_id"], e["item_id"], e["click"], e["conversion"]) for e in events] == [
        (7, 100, 1, 0), (8, 101, 0, 0), (7, 100, 1, 1)]
    assert [s.name for s in DatasetSpec.load(out).scenarios] == ["301=9001", "301=9002"]
    assert table(out, "users")[0]["121"] == 11 and table(out, "items")[0]["216"] == 4


def test_no_files_and_bad_layout(tmp_path: Path) -> None:
    with pytest.raises(ImportSourceError, match="no Ali-CCP"):
        import_aliccp(tmp_path, tmp_path / "out")
    with pytest.raises(ImportSourceError, match="layouts are"):
        import_aliccp(tmp_path, tmp_path / "out", layout="csv")


def test_layout_option_exit_2(tmp_path: Path, import_fails) -> None:
    import_fails("aliccp", tmp_path, "layouts are tianchi, rechub, aitm", "--layout", "csv")
    import_fails("douban", tmp_path, "the douban importer has a single layout", "--layout", "aitm")
