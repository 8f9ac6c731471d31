"""JDsearch importer: the real sample (search history with and without queries, candidate lists as requests)
and a malformed fixture."""

from __future__ import annotations

from pathlib import Path

import pytest

from unisr.data.importers import import_jdsearch

HEAD = ("query\tcandidate_wid_list\tcandidate_label_list\thistory_qry_list\thistory_wid_list\thistory_type_list\t"
        "history_time_list\n")
PROD = ("wid\tname\tbrand_id\tbrand_name\tcate_id_1\tcate_name_1\tcate_id_2\tcate_name_2\tcate_id_3\tcate_name_3\t"
        "cate_id_4\tcate_name_4\tshop_id\n")


@pytest.mark.shared_data
def test_real_sample(shared, import_validate, table) -> None:
    out, _ = import_validate("jdsearch", shared("jdsearch"))
    events = table(out, "events")
    hist = [e for e in events if e["request_id"] is None]
    shown = [e for e in events if e["request_id"] is not None]
    assert len(hist) == 182 + 46 + 2 and len(shown) == 90 + 89 + 83  # history and candidate list lengths
    assert {e["scenario_id"] for e in shown} == {0} and all(e["query_id"] is not None for e in shown)
    assert all((e["query_id"] is None) == (e["scenario_id"] == 1) for e in hist)
    assert [e["position"] for e in shown[:3]] == [0, 1, 2] and shown[0]["click"] == 1
    assert len(table(out, "users")) == 3 and all(q["kind"] == "text" for q in table(out, "queries"))


def test_malformed_rows_rejected_with_reason(tmp_path: Path, reasons, table, unisr) -> None:
    src = tmp_path / "src"
    src.mkdir()
    q = "5\x186"
    (src / "release_data.txt").write_text(HEAD + "\n".join([
        f"{q}\t1_2_3\t3.0_0.0_1.0\t-1_7\x188\t1_4\tCLICK_ORD\t0_10_5",
        f"{q}\t1_2\t1.0\t-1\t1\tCLICK\t0_1",
        f"{q}\t1_2\t1.0_0.0\t-1\t1\tCLICK\t0",
        f"{q}\t1_2\t1.0_9.0\t-1\t1\tCLICK\t0_1",
        f"{q}\t1_x\t1.0_0.0\t-1\t1\tCLICK\t0_1",
        f"{q}\t1_2\t1.0_0.0\t-1\t1\tVIEW\t0_1",
        "only\ttwo",
    ]) + "\n")
    (src / "product_data.txt").write_text(PROD + "1\t9\x189\t3\t9\t11\t9\t12\t9\t13\t9\t14\t9\t77\n"
                                                 "zz\t9\t3\t9\t11\t9\t12\t9\t13\t9\t14\t9\t77\n")
    rep = import_jdsearch(src, tmp_path / "out")
    assert rep.read == {"product_data.txt": 2, "release_data.txt": 7} and rep.balanced
    assert reasons(tmp_path / "out") == {
        "product id (wid) not an integer": 1, "candidate and label lists differ in length": 1,
        "history lists differ in length (time list must be one longer)": 1, "candidate label not in {0, 1, 2, 3}": 1,
        "candidate wid not an integer": 1, "history type not one of ORD, CLICK, CART, FLW": 1,
        "unparseable: wrong number of fields": 1}
    ev = table(tmp_path / "out", "events")
    assert [(e["item_id"], e["scenario_id"], e["ts"], e["conversion"]) for e in ev[:2]] == [(1, 1, 0, 0), (4, 0, 10, 1)]
    assert [(e["item_id"], e["click"], e["conversion"], e["ts"]) for e in ev[2:]] == [(1, 1, 1, 15), (2, 0, 0, 15),
                                                                                     (3, 1, 0, 15)]
    items = {i["item_id"]: i for i in table(tmp_path / "out", "items")}
    assert items[1]["category_path"] == [11, 12, 13, 14] and items[1]["shop"] == 77 and set(items) == {1, 2, 3, 4}
    assert unisr("data", "validate", tmp_path / "out").returncode == 0
