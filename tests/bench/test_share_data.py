"""Tests of ``unisr.bench.share_data``: the head / long-tail leaves by train traffic, and that traffic itself."""

from __future__ import annotations

from synth import make_dataset
from unisr.bench.share_data import head_tail, train_traffic


def test_head_and_long_tail_by_train_traffic():
    traffic = {f"s{i}": c for i, c in enumerate([500, 300, 100, 50, 20, 10, 8, 6, 4, 2])}
    leaves = list(traffic)
    head, tail, head5, tail5 = head_tail(traffic, leaves, test_ok=set(leaves) - {"s9"})
    assert head == ["s0", "s1", "s2", "s3", "s4"]
    # the first 80% of 1000 impressions are s0 + s1 (800): the tail starts after them, never in the head
    assert tail == ["s5", "s6", "s7", "s8", "s9"]
    assert head5 == head and tail5 == ["s8", "s7", "s6", "s5"]  # quietest first, s9 has no usable test split


def test_train_traffic_counts_the_train_split_only(tmp_path):
    root = make_dataset(tmp_path / "d", n_events=2000, split={"kind": "random", "ratios": [0.5, 0.25, 0.25],
                                                              "seed": 3})
    counts = train_traffic(root)
    assert set(counts) <= {"scen0", "scen1", "scen2"}
    assert 800 < sum(counts.values()) < 1200  # half of 2000
