"""Suite ``recbole-ml1m`` (bench/suite_recbole.py) and its data protocol (data/importers/movielens.py,
``protocol='recbole'``): RecBole's per-user split sizes against a literal copy of RecBole's rule, the import of a
RecBole-format fixture, the retrieval metrics' RecBole definitions on a hand case, the table's gaps and verdicts."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from unisr.bench.suite_recbole import PUBLISHED, ROWS, TOLERANCE, summarise
from unisr.data.importers.movielens import import_movielens, recbole_split, recbole_split_counts
from unisr.evaluate.retrieval import ranking_metrics


def _recbole_calcu_split_ids(tot, ratios):
    """RecBole 1.x ``Dataset._calcu_split_ids``, copied literally (the reference the vectorised rule must match)."""
    cnt = [int(ratios[i] * tot) for i in range(len(ratios))]
    cnt[0] = tot - sum(cnt[1:])
    for i in range(1, len(ratios)):
        if cnt[0] <= 1:
            break
        if 0 < ratios[-i] * tot < 1:
            cnt[-i] += 1
            cnt[0] -= 1
    return cnt


def test_split_counts_follow_recboles_rule():
    n = np.arange(1, 400)
    got = recbole_split_counts(n)
    want = np.array([_recbole_calcu_split_ids(int(t), [0.8, 0.1, 0.1]) for t in n])
    assert np.array_equal(got, want)
    assert got[:4].tolist() == [[1, 0, 0], [1, 0, 1], [1, 1, 1], [2, 1, 1]]


def test_split_is_per_user_seeded_and_shuffled():
    g = np.random.default_rng(0)
    user = np.repeat(np.arange(30), g.integers(1, 60, 30))
    g.shuffle(user)
    a, b, c = recbole_split(user, 1), recbole_split(user, 1), recbole_split(user, 2)
    assert (a == b).all() and (a != c).any()
    for u in np.unique(user):
        parts = a[user == u]
        want = recbole_split_counts(np.array([len(parts)]))[0]
        assert [(parts == s).sum() for s in ("train", "valid", "test")] == want.tolist()


def _fixture(root):
    root.mkdir()
    (root / "ml-1m.inter").write_text(
        "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
        + "".join(f"1m_{u}\tMovie {i} (1999)\t{(u + i) % 5 + 1}\t97830{u}{i:03d}\n"
                  for u in range(1, 7) for i in range(1, 21)))
    (root / "ml-1m.user").write_text("user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token\n"
                                     + "".join(f"1m_{u}\t25\tM\t{u}\t0000{u}\n" for u in range(1, 7)))
    (root / "ml-1m.item").write_text("item_id:token\tgenre:token_seq\n"
                                     + "".join(f"Movie {i} (1999)\tDrama\n" for i in range(1, 23)))
    return root


def test_recbole_import_filters_splits_and_balances(tmp_path):
    rep = import_movielens(_fixture(tmp_path / "src"), tmp_path / "out", protocol="recbole")
    assert rep.balanced
    ev = pl.read_parquet(tmp_path / "out" / "events.parquet")
    assert ev["rating"].min() >= 3 and (ev["click"] == 1).all() and (ev["scenario_id"] == 0).all()
    assert ev.height == rep.written["ml-1m.inter"] == 120 - rep.rejected["ml-1m.inter"]
    items = pl.read_parquet(tmp_path / "out" / "items.parquet")
    assert set(items["item_id"]) == set(ev["item_id"]) and rep.rejected["ml-1m.item"] == 22 - items.height
    for _, g in ev.group_by("user_id"):
        want = recbole_split_counts(np.array([g.height]))[0]
        assert [(g["split"] == s).sum() for s in ("train", "valid", "test")] == want.tolist()
    rejected = pl.read_parquet(tmp_path / "out" / "rejected.parquet")
    assert rejected["reason"].str.contains("RecBole protocol").all()


def test_metrics_are_recboles_definitions():
    """One user, targets {7, 8, 9}, ranking [5, 7, 6, 9, ...]: RecBole's Recall@K = hits / |T|, NDCG@K with the
    ideal DCG over min(|T|, K) positions, Hit@K = any hit, MRR@K = 1 / first hit rank."""
    ranked = np.array([[5, 7, 6, 9, 1, 2, 3, 4, 10, 11]])
    out = ranking_metrics(ranked, np.array([0, 3]), np.array([7, 8, 9]), [2, 10])
    disc = 1 / np.log2(np.arange(2, 12))
    assert out["recall@10"][0] == pytest.approx(2 / 3) and out["recall@2"][0] == pytest.approx(1 / 3)
    assert out["ndcg@10"][0] == pytest.approx((disc[1] + disc[3]) / disc[:3].sum())
    assert out["ndcg@2"][0] == pytest.approx(disc[1] / disc[:2].sum())  # IDCG over min(3, 2) = 2 positions
    assert out["hr@2"][0] == 1.0 and out["mrr@10"][0] == pytest.approx(0.5) and out["mrr@2"][0] == pytest.approx(0.5)


def _run(name, scale):
    return {"run_name": name, "best_epoch": 9,
            "overall": {k: v * scale for k, v in PUBLISHED.get(name, PUBLISHED["bpr"]).items()}}


def test_summary_gaps_and_verdicts():
    summary, rows, claims = summarise([_run("bpr", 1.01), _run("bpr", 0.99), _run("lightgcn", 0.95),
                                       _run("dssm", 0.5)])
    assert summary["bpr"]["within_tolerance"] and not summary["lightgcn"]["within_tolerance"]
    assert summary["lightgcn"]["gaps"]["mrr@10"] == pytest.approx(-0.05)
    bpr = next(r for r in rows if r[0] == "bpr")
    assert bpr[1] == "2" and bpr[3] == "0.1776" and bpr[4] == "+0.00%"
    assert any("dssm: no published row" in c for c in claims)
    assert any(c.startswith("lightgcn") and "does not hold" in c for c in claims)
    assert TOLERANCE == 0.03 and {r.name for r in ROWS} == {"bpr", "lightgcn", "youtubednn", "dssm"}


def _recbole_early_stopping(value, best, cur_step, max_step):
    """RecBole 1.x ``utils.early_stopping`` (bigger is better), copied literally."""
    stop_flag = False
    if value > best:
        cur_step, best = 0, value
    else:
        cur_step += 1
        if cur_step > max_step:
            stop_flag = True
    return best, cur_step, stop_flag


def test_patience_stops_where_recboles_stopping_step_10_stops():
    from types import SimpleNamespace

    from torch import nn

    from unisr.bench.suite_recbole import PROTOCOL
    from unisr.train.trainer import EarlyStopping

    g = np.random.default_rng(0)
    patience = next(o.value for o in PROTOCOL if o.key == "train.patience")
    for _ in range(20):
        values = np.maximum.accumulate(g.random(60)) * (g.random(60) > 0.3) + g.random(60) * 0.01
        best, cur, want = -np.inf, 0, None
        for e, v in enumerate(values):
            best, cur, stop = _recbole_early_stopping(v, best, cur, 10)
            if stop:
                want = e
                break
        es = EarlyStopping(monitor="mrr@10", patience=patience)
        trainer = SimpleNamespace(stop=False, model=nn.Linear(1, 1))
        got = None
        for e, v in enumerate(values):
            es.on_epoch_end(trainer, e, {"valid": {"overall": {"mrr@10": float(v)}}})
            if trainer.stop:
                got = e
                break
        assert got == want
