"""Tests of ``unisr.bench.suite_swr``: the protocol as typed overrides and the table rows against the paper."""

from __future__ import annotations

import pytest

from unisr.bench.suite_swr import (
    PUBLISHED_AS,
    SWR_MODELS,
    SWR_MOVIELENS,
    SWR_PROTOCOL,
    SWR_ROWS,
    UNPUBLISHED,
    summarise,
)


def test_protocol_is_scenario_wise_recs():
    assert [o.text() for o in SWR_PROTOCOL] == [
        "train.optimizer=adam", "train.lr=0.001", "train.weight_decay=0.00001", "data.batch_size=4096",
        "train.patience=4", "train.epochs=50", "train.monitor=auc", "model.sparse_grad=false"]
    assert set(SWR_MODELS) - {"dnn", "apg"} - set(UNPUBLISHED) <= set(SWR_MOVIELENS)
    assert not set(UNPUBLISHED) & set(SWR_MOVIELENS) and set(UNPUBLISHED) <= set(SWR_MODELS)


def _run(model: str, auc: float) -> dict:
    return {"run_name": model, "overall": {"auc": auc, "logloss": 0.52},
            "scenarios": {s: {"auc": auc + d} for s, d in (("a", 0.001), ("b", 0.0), ("c", -0.001))}}


def test_summary_rows_carry_the_published_numbers():
    runs = [_run("star", 0.8140), _run("star", 0.8146), _run("dnn", 0.8127)]
    scen, summary, rows = summarise(runs)
    assert scen == ["a", "b", "c"] and summary["star"]["auc"] == [0.8140, 0.8146]
    star = next(r for r in rows if r[0] == "star")
    assert star[1] == "0.8143 ± 0.0004" and star[6] == "0.8096" and star[7] == "+0.0047"
    assert star[8] == "0.8137 / 0.8133 / 0.7979"
    assert next(r for r in rows if r[0] == "dnn (1 seed: 0)")[6:] == ["-", "n/a", "-"]  # one run: said so
    # a model Scenario-Wise Rec ships without a MovieLens number: the row says none was published
    assert summarise([_run("hamur", 0.81)])[2][0][6:] == ["none published", "n/a", "-"]
    assert summary["star"]["scenario_auc"]["a"] == pytest.approx([0.8150, 0.8156])


def test_diagnostic_rows_compare_with_their_models_published_number():
    names = {r.name: r for r in SWR_ROWS}
    assert set(SWR_MODELS) <= set(names)
    for row, model in PUBLISHED_AS.items():
        assert names[row].model == model and names[row].sets
    _, summary, rows = summarise([_run("m2m-batch-attention-g64", 0.8100), _run("m2m-batch-attention-g64", 0.8110)])
    assert summary["m2m-batch-attention-g64"]["published"] == SWR_MOVIELENS["m2m"]
    assert rows[0][6:8] == ["0.8115", "-0.0010"]
