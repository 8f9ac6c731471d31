"""``unisr.bench.ceiling``: the observable ceiling shows beside a suite only for the data it was measured on."""

from __future__ import annotations

import json

from unisr.bench.ceiling import ceiling_tables, load_ceiling
from unisr.bench.fingerprint import data_fingerprint


def _file(tmp_path, fp):
    scen = {"search_text": {"auc_no_position": 0.7593, "auc_position": 0.7933, "oracle_auc": 0.8225,
                            "events": {"test": 58085}, "test_clicks": 3297}}
    p = tmp_path / "observable-ceiling.json"
    p.write_text(json.dumps({"data": fp, "scenarios": scen}))
    return p


def test_the_ceiling_of_the_same_data_as_a_table(tiny_dataset, tmp_path):
    (t,) = ceiling_tables(tiny_dataset, ["search_text", "feed_main"], _file(tmp_path, data_fingerprint(tiny_dataset)))
    assert t.header[1].startswith("GBDT") and len(t.rows) == 1  # feed_main is not in the file
    assert t.rows[0] == ["search_text", "0.7593", "0.7933", "0.8225", "58,085 / 3,297"]


def test_other_data_or_no_file_gives_nothing(tiny_dataset, tmp_path):
    assert load_ceiling("other", _file(tmp_path, "abc")) is None
    assert ceiling_tables(tiny_dataset, ["search_text"], _file(tmp_path, "abc")) == []  # measured on other data
    assert ceiling_tables(tiny_dataset, ["search_text"], tmp_path / "missing.json") == []
    fp = data_fingerprint(tiny_dataset)
    assert ceiling_tables(tiny_dataset, ["feed_new"], _file(tmp_path, fp)) == []
