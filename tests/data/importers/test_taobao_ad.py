"""Taobao display-ad importer: the real FuxiCTR sample (pid = scenario, click sequence) and a malformed fixture."""

from __future__ import annotations

from pathlib import Path

import pytest

from unisr.data.importers import import_taobao_ad
from unisr.data.schema import DatasetSpec

HEADER = ("clk,time_stamp,userid,adgroup_id,pid,cate_id,campaign_id,customer,brand,price,cms_segid,cms_group_id,"
          "final_gender_code,age_level,pvalue_level,shopping_level,occupation,new_user_class_level,click_sequence")


@pytest.mark.shared_data
def test_real_sample(shared, import_validate, table) -> None:
    out, _ = import_validate("taobao-ad", shared("taobao-display-ad"))
    spec = DatasetSpec.load(out)
    assert sorted(s.name for s in spec.scenarios) == ["pid=430539_1007", "pid=430548_1007"]
    events = table(out, "events")
    assert len(events) == 200 and {e["split"] for e in events} == {"train", "valid"}
    assert events[0]["ts"] == 1494028800 and events[0]["click_sequence"] == [170301, 573514]  # 2017-05-06 UTC


def test_malformed_rows_rejected_with_reason(tmp_path: Path, reasons, unisr) -> None:
    src = tmp_path / "src"
    src.mkdir()
    good = "0,2017-05-06 00:00:00,1,2,p1,3,4,5,6,3.9,0,3,2,3,,3,0,,7^8"
    (src / "train.csv").write_text("\n".join([
        HEADER, good, good.replace("p1", "p2").replace(",1,2,", ",5,6,"),
        good.replace("2017-05-06 00:00:00", "soon"), good.replace("7^8", "7^x"), good.replace("3.9", "cheap"),
    ]) + "\n")
    (src / "test.csv").write_text(HEADER + "\n" + good.replace("0,2017", "1,2017") + "\n")
    rep = import_taobao_ad(src, tmp_path / "out")
    assert rep.read == {"train.csv": 5, "test.csv": 1} and rep.written == {"train.csv": 2, "test.csv": 1}
    assert reasons(tmp_path / "out") == {"time (time_stamp) not a number": 1, "click_sequence not of type list:^": 1,
                                         "price not of type float": 1}
    assert unisr("data", "validate", tmp_path / "out").returncode == 0
