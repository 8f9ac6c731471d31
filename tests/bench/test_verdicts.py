"""Tests of ``unisr.bench.verdicts``: one rule for a claimed win (margin + seed-paired t-test) and its texts."""

from __future__ import annotations

import math

from unisr.bench.verdicts import MIN_MARGIN, clearly_greater, compare, verdict


def test_a_claimed_win_needs_the_margin_and_significance():
    assert compare([0.75, 0.76, 0.77], [0.70, 0.71, 0.72]).ok  # ahead on every seed: p ~ 0
    ok, text = compare([0.7485, 0.7476, 0.7499], [0.7487, 0.7470, 0.7490])  # ahead by 0.0004, p ~ 0.3
    assert not ok and "p=" in text
    assert not compare([0.7490], [0.7488]).ok  # one seed: within the margin
    ok, text = compare([0.7500], [0.7400])
    assert ok and "no paired test (1 vs 1 seeds)" in text
    ok, text = compare([1.0, 1.0], [1.0, 1.0])  # HR@10 when every request shows <= 10 candidates
    assert not ok and "do not vary" in text
    # a claim of significance: without a paired test the margin alone is no win
    ok, text = compare([0.7500], [0.7400], require_test=True)
    assert not ok and "no paired test (1 vs 1 seeds)" in text
    assert compare([0.75, 0.76, 0.77], [0.70, 0.71, 0.72], require_test=True).ok


def test_seed_keyed_values_are_paired_by_seed():
    """``{seed: value}`` maps pair the seeds both have and say so when a row has others; with fewer than two
    in common the full means decide by the margin, and a claim of significance does not hold."""
    a = {s: 0.60 + 0.01 * s for s in range(5)}
    b = {s: a[s] - 0.01 - 0.0001 * s for s in (2, 3, 4)}
    c = compare(a, b, require_test=True)
    assert c.ok and c.text.endswith("over the 3 seeds both have (2, 3, 4)") and c.p < 0.05
    assert c.short == f"p={c.p:.3g}, seeds 2,3,4" and c.ttest == f"t={c.t:.2f}, p={c.p:.3g}"
    lone = compare({0: 0.7, 1: 0.7}, {1: 0.5, 3: 0.5})
    assert lone.ok and lone.text == "no paired test (2 vs 2 seeds, 1 in common): margin only"
    assert lone.short == "margin only" and lone.ttest == "n/a"
    assert not compare({0: 0.7, 1: 0.7}, {1: 0.5, 3: 0.5}, require_test=True).ok
    every = compare({0: 0.70, 1: 0.72, 2: 0.71}, {0: 0.60, 1: 0.61, 2: 0.615})
    assert every.ok and "over the" not in every.text and every.short == f"p={every.p:.3g}"


def test_verdict_words_and_the_margin():
    assert [verdict(True), verdict(False), verdict(None)] == ["holds", "does not hold", "n/a"]
    assert clearly_greater(0.5 + 1.01 * MIN_MARGIN, 0.5) and not clearly_greater(0.5 + MIN_MARGIN / 2, 0.5)
    ok, text = compare([0.75, 0.76, 0.77], [0.70, 0.71, 0.72])
    assert ok and text.startswith("paired t-test t=")
    one = compare([0.7], [0.6])
    assert math.isnan(one.p) and one.short == "margin only" and one.ttest == "n/a"
