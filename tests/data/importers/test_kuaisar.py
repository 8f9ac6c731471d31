"""KuaiSAR importer on fixtures in the published Zenodo schema (no real rows ship in ../shared/data)."""

from __future__ import annotations

from pathlib import Path

import pytest

from unisr.data.importers import ImportSourceError, import_kuaisar
from unisr.data.schema import DatasetSpec

REC = ("user_id,item_id,playing_time,duration_ms,time,timestamp,click,forward,like,follow,search,"
       "search_item_related\n")
SRC = ("user_id,search_session_id,search_session_time,search_session_timestamp,keyword,search_source,item_id,"
       "click_cnt,item_type\n")
ITEM = ("item_id,caption,author_id,item_type,upload_time,upload_type,first_level_category_id,"
        "first_level_category_name,second_level_category_id,second_level_category_name,third_level_category_id,"
        "third_level_category_name,fourth_level_category_id,fourth_level_category_name,first_level_category_name_en,"
        "second_level_category_name_en,third_level_category_name_en,fourth_level_category_name_en\n")


def _fixture(src: Path) -> None:
    src.mkdir()
    (src / "rec_inter.csv").write_text(REC + "\n".join([
        "1,10,5000,20000,2023-05-22 10:00:00,1684749600000,1,0,1,0,0,0",
        "2,11,100,20000,2023-05-22 10:01:00,1684749660000,0,0,0,0,0,0",
        "3,12,100,20000,2023-05-22 10:01:00,1684749660000,3,0,0,0,0,0",
        "4,13,100,20000,2023-05-22 10:01:00,never,0,0,0,0,0,0",
        "5,14",
    ]) + "\n")
    (src / "src_inter.csv").write_text(SRC + "\n".join([
        '1,900,2023-05-22 11:00:00,1684753200000,"[31, 32]",1,10,1,1',
        '2,901,2023-05-22 11:05:00,1684753500000,"[31, 32]",2,15,0,1',
        "3,902,2023-05-22 11:06:00,1684753560000,,1,16,1,1",
    ]) + "\n")
    (src / "social_network.csv").write_text("user_id,user_follow_id\n1,2\n2,7\nx,1\n")
    (src / "user_features.csv").write_text("user_id,search_active_level,rec_active_level,onehot_feat1,onehot_feat2\n"
                                           "1,2,3,0,1\n2,1,1,1,0\n")
    (src / "item_features.csv").write_text(
        ITEM + '10,"a, b",55,1,20230501,2,1,cat,2,cat,3,cat,-124,cat,c,c,c,c\n')


def test_fixture_import_validate(tmp_path: Path, reasons, table, import_validate) -> None:
    src = tmp_path / "kuaisar"
    _fixture(src)
    out, _ = import_validate("kuaisar", src)
    assert reasons(out) == {"click not 0 or 1": 1, "timestamp not a number": 1,
                            "unparseable: wrong number of fields": 1, "no keyword terms": 1,
                            "user id not an integer": 1}
    rep = import_kuaisar(src, tmp_path / "again")
    assert rep.balanced and rep.written["rec_inter.csv"] == 2 and rep.written["src_inter.csv"] == 2
    events = table(out, "events")
    search = [e for e in events if e["scenario_id"] == 0]
    assert [(e["user_id"], e["click"], e["request_id"], e["ts"]) for e in search] == [
        (1, 1, 900, 1684753200), (2, 0, 901, 1684753500)]
    assert search[0]["query_id"] == search[1]["query_id"]
    assert table(out, "queries") == [{"query_id": search[0]["query_id"], "kind": "text", "tokens": [31, 32]}]
    assert table(out, "social") == [{"src_user_id": 1, "dst_user_id": 2, "view": "follow"},
                                    {"src_user_id": 2, "dst_user_id": 7, "view": "follow"}]
    items = {i["item_id"]: i for i in table(out, "items")}
    assert items[10]["category_path"] == [1, 2, 3] and items[10]["author_id"] == "55"
    assert [s.kind for s in DatasetSpec.load(out).scenarios] == ["search_text", "recommend"]


def test_missing_file(tmp_path: Path, import_fails) -> None:
    (tmp_path / "src").mkdir()
    with pytest.raises(ImportSourceError, match="rec_inter.csv"):
        import_kuaisar(tmp_path / "src", tmp_path / "out")
    import_fails("kuaisar", tmp_path / "src", "rec_inter.csv: missing")
