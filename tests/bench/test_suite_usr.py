"""Tests of ``unisr.bench.suite_usr``'s claim rules: a "holds" needs the margin and, with paired seeds, p < 0.05."""

from __future__ import annotations

from unisr.bench.suite_usr import ablation_claims, dims_claim, table1_claim

# four metrics (S CTCVR, S CTR, R CTCVR, R CTR) x five seeds
BASE = [[0.660, 0.655, 0.665, 0.662, 0.658], [0.590, 0.588, 0.592, 0.591, 0.589],
        [0.680, 0.690, 0.670, 0.685, 0.675], [0.683, 0.684, 0.682, 0.685, 0.681]]


SIGN = [1, -1, 1, -1, 0]  # a seed-to-seed wobble that averages to zero


def shifted(v: list[list[float]], by: list[float], jitter: float = 0.0) -> list[list[float]]:
    return [[x + d + jitter * g for x, g in zip(row, SIGN, strict=True)] for row, d in zip(v, by, strict=True)]


def wobbled(v: list[list[float]], by: float, amp: float) -> list[list[float]]:
    """Every metric shifted by ``by`` on average, with a large seed-to-seed wobble ``amp``."""
    return shifted(v, [by] * 4, jitter=amp)


def test_table1_needs_four_significant_wins():
    up = shifted(BASE, [0.01, 0.01, 0.01, 0.01], jitter=0.001)  # ahead on every seed of every metric
    line = table1_claim("star", BASE, up)
    assert ": holds (" in line and "4/4 won by the margin + paired t-test rule" in line and "+1.00 (p=" in line
    # +0.3 points on average with seed-to-seed noise of +-1 point: a mean lead, not a win (the old rule said
    # "holds" for any four positive means)
    noisy = wobbled(BASE, 0.003, 0.01)
    line = table1_claim("star", BASE, noisy)
    assert ": does not hold (" in line and "0/4 won by the margin + paired t-test rule" in line
    # three wins and one loss
    line = table1_claim("apg", BASE, shifted(BASE, [0.01, 0.01, 0.01, -0.01], jitter=0.001))
    assert ": does not hold (" in line and "3/4 won by the margin + paired t-test rule" in line


def test_ablation_drops_are_paired_by_seed_and_glmt_must_be_largest_and_significant():
    full = shifted(BASE, [0.01] * 4)
    variants = {"w/o S&R Views IE": shifted(BASE, [0.005] * 4, jitter=0.0005),  # drop 0.5 pts, every seed
                "w/o S&R Views FG": wobbled(BASE, 0.01, 0.02),  # no drop on average
                "w/o GLMT": shifted(BASE, [-0.01] * 4, jitter=0.0005)}  # drop 2 pts, every seed
    lines = ablation_claims(full, variants)
    assert lines[0].startswith("w/o S&R Views IE lowers AUC (STAR backbone): holds (mean drop +0.50 pts")
    assert "does not hold" in lines[1] and "p=" in lines[1]
    assert "w/o GLMT lowers AUC (STAR backbone): holds (mean drop +2.00 pts" in lines[2]
    assert lines[3] == "w/o GLMT brings the largest drop: holds (largest: w/o GLMT, +2.00 pts, significant)"
    # the largest mean drop but not a significant one: does not hold
    noisy = {"w/o GLMT": wobbled(BASE, 0.005, 0.03)}
    lines = ablation_claims(full, noisy)
    assert lines[-1].startswith("w/o GLMT brings the largest drop: does not hold (largest: w/o GLMT")
    assert lines[-1].endswith("not a significant drop)")


def test_dims_claim_needs_32_ahead_of_every_other_size_in_every_metric():
    by = {16: shifted(BASE, [0.0] * 4, jitter=0.0005), 32: shifted(BASE, [0.01] * 4), 64: BASE}
    assert dims_claim(by).startswith("d = 32 gives the best AUC in all four metrics: holds")
    by[64] = shifted(BASE, [0.0, 0.0, 0.0, 0.02])  # d = 64 best on R CTR
    line = dims_claim(by)
    assert "does not hold" in line and "[32, 32, 32, 64]" in line and "in 3/4" in line
    assert "n/a" in dims_claim({32: BASE})


def test_base_rows_read_the_query_and_the_old_rows_keep_their_keys():
    """Issue 33: the Base rows switch the query input on (new record keys); ``suite.base_query=false`` gives the
    rows of the records made before, override for override (so those records are still found)."""
    from unisr.bench.suite_usr import rows

    new = {r.name: r.sets for r in rows(["star"], ablation=True, dims=[16])}
    old = {r.name: r.sets for r in rows(["star"], ablation=True, dims=[16], base_query=False)}
    assert "model.query_input=on" in new["star-base"]
    assert old["star-base"] == ("model.backbone=star", "model.use_ie=false", "model.use_fg=false",
                                "model.use_glmt=false")
    assert {k: v for k, v in new.items() if k != "star-base"} == {k: v for k, v in old.items() if k != "star-base"}


def test_paper_preset_is_the_papers_optimizer_with_early_stopping_below_the_cap():
    """The default protocol: AdamW lr 1e-4 (the model's defaults, paper sec. 4.1.3), validation every
    ``max_steps_per_epoch`` steps, patience below the epoch cap; the quick preset keeps the records' budget."""
    from unisr.bench.suite_usr import COMMON, PRESETS, _options
    from unisr.pipeline.config import resolve_config

    opts, _ = _options([])
    assert opts["preset"] == "paper" and opts["base_query"] is True
    cfg = resolve_config("usr", sets=[o.text() for o in (*COMMON, *PRESETS["paper"])])
    t = cfg.train
    assert (t.optimizer, t.lr) == ("adamw", 1e-4)
    assert t.max_steps_per_epoch is not None and 0 < t.patience < t.epochs // 2
    quick = resolve_config("usr", sets=[o.text() for o in PRESETS["quick"]]).train
    assert (quick.lr, quick.epochs, quick.patience, quick.max_steps_per_epoch) == (1e-3, 8, 2, None)


def test_the_recorded_base_rows_are_still_found_with_the_quick_preset_and_base_query_false():
    """The records of benchmarks/records/usr keep their keys: the sets this suite gives a row with
    ``suite.preset=quick suite.base_query=false`` (+ the records' ``train.threads=1``) are the recorded ones."""
    import json
    from pathlib import Path

    from unisr.bench.suite_usr import COMMON, PRESETS, rows

    root = Path(__file__).resolve().parents[2] / "benchmarks" / "records" / "usr"
    recs = sorted(root.glob("*-base/seed0-*/record.json")) + sorted(root.glob("star-usr/seed0-*/record.json"))
    if not recs:
        import pytest

        pytest.skip(f"no usr records under {root}")
    by = {r.name: r for r in rows(["shared_bottom", "mmoe", "ple", "star", "m2m", "apg"], True, [], False)}
    for rec in recs:
        key = json.loads(rec.read_text())
        if key["row"] not in by:
            continue
        want = [o.text() for o in (*COMMON, *PRESETS["quick"])] + ["train.threads=1", *by[key["row"]].sets]
        assert sorted(key["sets"]) == sorted(want), rec
