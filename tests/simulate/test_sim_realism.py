"""Realism checks on the tiny preset (ranges documented in docs/SIMULATOR.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from unisr.simulate.checks import auc, popularity_tail, position_ctr, scenario_stats

# documented click-rate ranges per scenario kind (docs/SIMULATOR.md, "Click rates")
CTR_RANGES = {
    "search_text": (0.03, 0.10),
    "search_visual": (0.04, 0.15),
    "search_similar": (0.025, 0.09),
    "recommend": (0.01, 0.09),
    "share": (0.04, 0.45),
}
DAY = 86_400


def test_click_rates_in_documented_ranges(tiny_dir: Path, tiny_events: pl.DataFrame) -> None:
    st = scenario_stats(tiny_dir, tiny_events)
    for row in st.iter_rows(named=True):
        lo, hi = CTR_RANGES[row["kind"]]
        if row["n"] >= 500:  # small scenarios: sampling noise; checked by kind below
            assert lo <= row["ctr"] <= hi, (row["name"], row["ctr"])
    by_kind = st.group_by("kind").agg((pl.col("ctr") * pl.col("n")).sum() / pl.col("n").sum())
    for kind, ctr in by_kind.iter_rows():
        lo, hi = CTR_RANGES[kind]
        assert lo <= ctr <= hi, (kind, ctr)
    # the sampled clicks agree with the truth they were drawn from
    assert abs(tiny_events["click"].mean() - tiny_events["p_click"].mean()) < 0.005


def test_click_rate_falls_with_position(tiny_events: pl.DataFrame) -> None:
    ctr = position_ctr(tiny_events)["ctr"].to_numpy()
    assert len(ctr) >= 6
    assert np.all(np.diff(ctr) < 0.002), ctr
    assert ctr[0] > 3 * ctr[-1]
    # also within each kind of scenario, true p_click falls with position
    for (sid,), part in tiny_events.filter(pl.col("scenario_id").is_in([0, 10])).group_by("scenario_id"):
        p = part.group_by("position").agg(pl.col("p_click").mean()).sort("position")["p_click"].to_numpy()
        assert np.all(np.diff(p) < 0), (sid, p)


def test_power_law_item_popularity(tiny_dir: Path, tiny_events: pl.DataFrame) -> None:
    n_items = pl.read_parquet(tiny_dir / "items.parquet").height
    tail = popularity_tail(tiny_events, n_items)
    assert tail["share_lt3_clicks"] > 0.5  # BOMGraph's long tail: most items have < 3 clicks
    assert tail["top1pct_click_share"] > 0.15
    assert -1.6 < tail["rank_slope"] < -0.5  # Zipf-like clicks against rank


def test_oracle_auc_per_scenario(tiny_dir: Path, tiny_events: pl.DataFrame) -> None:
    st = scenario_stats(tiny_dir, tiny_events)
    clicks = dict(tiny_events.group_by("scenario_id").agg(pl.col("click").sum()).iter_rows())
    checked = 0
    for row in st.iter_rows(named=True):
        n_pos = clicks[row["scenario_id"]]
        if n_pos >= 50 and row["n"] - n_pos >= 50:  # enough of both classes for a stable AUC
            assert 0.70 <= row["oracle_auc"] <= 0.95, (row["name"], row["oracle_auc"])
            checked += 1
    assert checked >= 8
    assert 0.70 <= auc(tiny_events["click"].to_numpy(), tiny_events["p_click"].to_numpy()) <= 0.95


def test_sessions_cross_scenarios_and_global_labels(tiny_events: pl.DataFrame) -> None:
    s = tiny_events.group_by("session_id").agg(
        pl.col("scenario_id").n_unique().alias("k"), (pl.col("ts").max() - pl.col("ts").min()).alias("dur")
    )
    assert (s["dur"] <= 1800).all()
    assert (s["k"] > 1).mean() > 0.15  # users switch scenarios inside a session
    # USR's global label: the same (user, item) shown in several scenarios
    ui = tiny_events.filter(pl.col("target_user_id").is_null()).group_by("user_id", "item_id").agg(
        pl.col("scenario_id").n_unique().alias("k")
    )
    assert (ui["k"] > 1).sum() > 100
    # similar-product triggers are often the item clicked just before in the session
    clicked = tiny_events.filter(pl.col("click") == 1).select("session_id", pl.col("item_id").alias("trigger_item_id"))
    sim = tiny_events.filter(pl.col("scenario_id") == 2).select("session_id", "trigger_item_id").unique()
    assert sim.join(clicked.unique(), on=["session_id", "trigger_item_id"]).height > 0.2 * sim.height


def test_imbalance_and_cold_start(tiny_dir: Path, tiny_events: pl.DataFrame) -> None:
    n = tiny_events.group_by("scenario_id").len()["len"]
    assert n.max() >= 100 * n.min()
    t0 = tiny_events["ts"].min()
    first_u = tiny_events.group_by("user_id").agg(pl.col("ts").min())
    assert (first_u["ts"] > t0 + 17 * DAY).sum() > 10  # new users late in the range
    items = pl.read_parquet(tiny_dir / "items.parquet", columns=["item_id", "created_ts"])
    new_items = items.filter(pl.col("created_ts") > t0 + 17 * DAY)["item_id"]
    assert tiny_events.filter(pl.col("item_id").is_in(new_items.implode())).height > 100


def test_social_views_differ_in_how_they_predict_sharing(tiny_dir: Path, tiny_events: pl.DataFrame) -> None:
    soc = pl.read_parquet(tiny_dir / "social.parquet")
    # data version 2 (the default, tiny_dir) writes the interaction counts between two users as a fourth view
    assert set(soc["view"].unique()) == {"friend", "pay", "share", "interact"}
    t0 = tiny_events["ts"].min()
    for view in ("share", "interact"):  # built from the background window
        assert (soc.filter(pl.col("view") == view)["ts"] < t0 + 14 * DAY).all(), view
    later = tiny_events.filter(pl.col("target_user_id").is_not_null() & (pl.col("ts") >= t0 + 14 * DAY))
    rates, cover = {}, {}
    for view in ("friend", "pay", "share", "interact"):
        e = soc.filter(pl.col("view") == view).select(
            pl.col("src_user_id").alias("user_id"), pl.col("dst_user_id").alias("target_user_id"), pl.lit(1).alias("hit")
        ).unique()
        j = later.join(e, on=["user_id", "target_user_id"], how="left").with_columns(pl.col("hit").fill_null(0))
        rates[view] = (j.filter(pl.col("hit") == 1)["click"].mean(), j.filter(pl.col("hit") == 0)["click"].mean())
        cover[view] = j["hit"].mean()
    for view, (inside, outside) in rates.items():
        assert inside > outside, (view, rates)
    # friend: broad but weak; pay and share: sparse but precise (they reveal strong ties)
    assert cover["friend"] > 3 * max(cover["pay"], cover["share"]), cover
    assert min(rates["pay"][0], rates["share"][0]) > rates["friend"][0], rates
