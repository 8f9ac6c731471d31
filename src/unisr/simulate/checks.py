"""Realism checks of a simulated dataset (used by the tests and by docs/SIMULATOR.md).

``python -m unisr.simulate.checks DIR`` prints per-scenario traffic, click rates, oracle AUC, the click
rate by position and the item-popularity tail.

Shapes:
    (no tensors) dataset folder -> per-scenario tables (polars)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import polars as pl
from scipy.stats import rankdata

from unisr.data.schema import DatasetSpec


def auc(y: np.ndarray, p: np.ndarray) -> float:
    """ROC AUC by the rank-sum formula (ties get mid-ranks); nan when one class is missing."""
    y = np.asarray(y).astype(bool)
    n1 = int(y.sum())
    n0 = len(y) - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    r = rankdata(p)
    return float((r[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def load(root: str | Path) -> pl.DataFrame:
    """Events joined with truth (works for files and folders of parts)."""
    root = Path(root)

    def scan(t: str) -> pl.LazyFrame:
        p = root / f"{t}.parquet"
        return pl.scan_parquet(str(p / "*.parquet") if p.is_dir() else str(p))

    return scan("events").join(scan("truth"), on="event_id").collect()


def scenario_stats(root: str | Path, df: pl.DataFrame | None = None) -> pl.DataFrame:
    df = load(root) if df is None else df
    spec = DatasetSpec.load(root)
    names = pl.DataFrame({"scenario_id": [s.id for s in spec.scenarios], "name": [s.name for s in spec.scenarios],
                          "kind": [str(s.kind) for s in spec.scenarios]}).with_columns(pl.col("scenario_id").cast(pl.Int16))
    g = df.group_by("scenario_id").agg(
        n=pl.len(),
        requests=pl.col("request_id").n_unique(),
        ctr=pl.col("click").mean(),
        mean_p=pl.col("p_click").mean(),
        cvr=(pl.col("conversion").sum() / pl.col("click").sum().clip(1)),
    )
    aucs = {
        int(s): auc(part["click"].to_numpy(), part["p_click"].to_numpy())
        for (s,), part in df.select("scenario_id", "click", "p_click").group_by("scenario_id")
    }
    g = g.with_columns(
        oracle_auc=pl.col("scenario_id").cast(pl.Int64).replace_strict(aucs, return_dtype=pl.Float64)
    )
    return names.join(g, on="scenario_id", how="left").sort("scenario_id")


def position_ctr(df: pl.DataFrame) -> pl.DataFrame:
    return df.group_by("position").agg(n=pl.len(), ctr=pl.col("click").mean()).sort("position")


def popularity_tail(df: pl.DataFrame, n_items: int) -> dict[str, float]:
    """Share of items with < 3 clicks and the log-log slope of clicks against item rank (top 1000 ranks)."""
    c = df.filter(pl.col("click") == 1).group_by("item_id").len()["len"].to_numpy()
    counts = np.sort(np.concatenate([c, np.zeros(n_items - len(c), np.int64)]))[::-1]
    top = counts[: min(1000, int((counts > 0).sum()))]
    slope = float(np.polyfit(np.log(np.arange(1, len(top) + 1)), np.log(top), 1)[0]) if len(top) > 10 else float("nan")
    return {
        "items": n_items,
        "share_lt3_clicks": float((counts < 3).mean()),
        "share_zero_clicks": float((counts == 0).mean()),
        "top1pct_click_share": float(counts[: max(1, n_items // 100)].sum() / max(counts.sum(), 1)),
        "rank_slope": slope,
    }


def main(root: str) -> None:  # pragma: no cover - a reporting helper
    pl.Config.set_tbl_rows(200)
    pl.Config.set_tbl_width_chars(200)
    df = load(root)
    st = scenario_stats(root, df)
    print(st)
    tot = df.height
    print(f"events {tot}, requests {df['request_id'].n_unique()}, ctr {df['click'].mean():.4f}")
    print(position_ctr(df))
    n_items = pl.scan_parquet(str(Path(root) / "items.parquet")).select(pl.len()).collect().item()
    print(popularity_tail(df, n_items))
    kinds = st.group_by("kind").agg(pl.col("n").sum(), (pl.col("ctr") * pl.col("n")).sum() / pl.col("n").sum())
    print(kinds)
    print("oracle AUC range:", st["oracle_auc"].min(), st["oracle_auc"].max())


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1])
