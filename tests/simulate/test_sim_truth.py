"""``truth.parquet``'s ``p_click_no_position``: the true click probability without the position term.

Shapes:
    (no tensors) one tiny simulation -> per-event columns p_click, p_click_no_position, position
"""

from __future__ import annotations

import numpy as np
import polars as pl

from unisr.simulate import resolve_config, simulate
from unisr.simulate.scenarios import build_registry


def _beta(cfg, seed: int) -> dict[int, float]:
    return {s.id: s.position_bias for s in build_registry(cfg, seed).scenarios}


def _logit(p: np.ndarray) -> np.ndarray:
    p = p.astype(np.float64)
    return np.log(p) - np.log1p(-p)


def test_p_click_no_position_removes_the_position_term(tiny_events: pl.DataFrame):
    """p_click_no_position = sigmoid(logit(p_click) + beta_s log2(1 + position)), to float32 precision, and
    it is above p_click wherever the position term is non-zero (every scenario has beta > 0)."""
    df = tiny_events
    beta = _beta(resolve_config("tiny"), 0)
    b = np.array([beta[s] for s in df["scenario_id"].to_numpy()])
    k = df["position"].to_numpy().astype(np.float64)
    p, p0 = df["p_click"].to_numpy(), df["p_click_no_position"].to_numpy()
    assert df["p_click_no_position"].dtype == pl.Float32
    expect = 1.0 / (1.0 + np.exp(-(_logit(p) + b * np.log2(1.0 + k))))
    # float32 sigmoid outputs: compare in logit space where p is far from 0 and 1, absolutely elsewhere
    assert np.allclose(p0, expect, rtol=2e-5, atol=2e-6), np.abs(p0 - expect).max()
    at0 = k == 0
    assert np.array_equal(p0[at0], p[at0])  # log2(1) = 0: nothing to remove at the top position
    assert (p0[~at0] > p[~at0]).all()


def test_p_click_no_position_equals_p_click_without_position_bias(tmp_path):
    """Where a scenario's position bias is 0 the two columns are equal, and elsewhere they still differ."""
    out = tmp_path / "nobias"
    simulate("tiny", out, seed=1, overrides={"n_events": 8_000, "scenarios.search.search_text.position_bias": 0.0,
                                              "scenarios.share.position_bias": 0.0})
    ev = pl.read_parquet(out / "events.parquet").join(pl.read_parquet(out / "truth.parquet"), on="event_id")
    no_bias = ev.filter((pl.col("scenario_id") == 0) | (pl.col("scenario_id") >= 100))
    assert no_bias.height > 1_000 and no_bias["position"].max() > 0
    assert (no_bias["p_click"] == no_bias["p_click_no_position"]).all()
    biased = ev.filter(pl.col("scenario_id").is_between(1, 99) & (pl.col("position") > 0))
    assert biased.height > 100 and (biased["p_click_no_position"] > biased["p_click"]).all()


def test_p_click_no_position_in_v2(tmp_path):
    """v2 (exact arithmetic) writes the same relation between the two columns."""
    out = tmp_path / "v2"
    simulate("tiny", out, seed=0, overrides={"version": 2, "n_events": 8_000})
    df = pl.read_parquet(out / "events.parquet").join(pl.read_parquet(out / "truth.parquet"), on="event_id")
    beta = _beta(resolve_config("tiny", {"version": 2}), 0)
    b = np.array([beta[s] for s in df["scenario_id"].to_numpy()])
    k = df["position"].to_numpy().astype(np.float64)
    p, p0 = df["p_click"].to_numpy(), df["p_click_no_position"].to_numpy()
    expect = 1.0 / (1.0 + np.exp(-(_logit(p) + b * np.log2(1.0 + k))))
    assert np.allclose(p0, expect, rtol=2e-5, atol=2e-6)
    assert np.array_equal(p0[k == 0], p[k == 0])
