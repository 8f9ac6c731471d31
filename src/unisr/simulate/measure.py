"""Measurements of the v2 mechanisms on a written dataset, from the observable tables only (plus truth).

Each ``check_*`` fits a simple model (scikit-learn logistic regression on standardised features) on the
days before the test window and reports the test AUC without and with the observable feature a mechanism
acts through, so ``gain = auc_with - auc_without`` is what a model can learn from it. ``benchmarks/
mechanisms.py`` runs them with each mechanism at its default strength and at 0; ``tests/simulate`` on tiny.

Windows (days from the first day): background < 14 (builds history features such as the share view),
fit 14 .. 22, test >= 22 (the canonical split's valid + test days).

Shapes:
    (no tensors) dataset folder -> dicts of floats (AUCs, shares, counts)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import yaml

from unisr.simulate.checks import auc

DAY = 86_400
FIT_FROM, TEST_FROM = 14, 22
SEARCH, FEED = 0, 10  # search_text and feed_main: the USR suite's two scenarios


def _read(root: Path, table: str, columns: list[str] | None = None) -> pl.DataFrame:
    p = root / f"{table}.parquet"
    if not p.exists():
        raise FileNotFoundError(f"{p}: table {table!r} missing")
    return pl.read_parquet(p / "*.parquet" if p.is_dir() else p, columns=columns)


def _t0(root: Path) -> int:
    meta = yaml.safe_load((root / "dataset.yaml").read_text())
    try:
        return int(meta["simulator"]["config"]["start_ts"])
    except (KeyError, TypeError) as e:
        raise ValueError(f"{root / 'dataset.yaml'}: simulator.config.start_ts missing (not simulated data?)") from e


def _day(root: Path) -> pl.Expr:
    return ((pl.col("ts") - _t0(root)) // DAY).alias("day")


def _fit_auc(df: pl.DataFrame, label: str, base: list[str], extra: list[str], group: str | None = None) -> dict:
    """Test AUC of a logistic regression on ``base`` and on ``base + extra`` (fit days 14-22, test >= 22);
    ``group``: one model per value of that column (the 'with' model), pooled otherwise."""
    try:
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler
    except ImportError as e:  # a dev dependency (pyproject's [dev] extra)
        raise ImportError("unisr.simulate.measure needs scikit-learn: pip install -e '.[dev]'") from e

    fit = df.filter((pl.col("day") >= FIT_FROM) & (pl.col("day") < TEST_FROM))
    test = df.filter(pl.col("day") >= TEST_FROM)
    out: dict = {"n_fit": fit.height, "n_test": test.height, "test_positives": int(test[label].sum())}
    if fit[label].n_unique() < 2 or test[label].n_unique() < 2:
        return out | {"auc_without": float("nan"), "auc_with": float("nan"), "gain": float("nan")}

    def predict(cols: list[str], f: pl.DataFrame, t: pl.DataFrame) -> np.ndarray:
        sc = StandardScaler().fit(f.select(cols).to_numpy().astype(np.float64))
        m = LogisticRegression(max_iter=500).fit(sc.transform(f.select(cols).to_numpy().astype(np.float64)),
                                                 f[label].to_numpy())
        return m.predict_proba(sc.transform(t.select(cols).to_numpy().astype(np.float64)))[:, 1]

    y = test[label].to_numpy()
    a0 = auc(y, predict(base, fit, test))
    if group is None:
        p1 = predict(base + extra, fit, test)
    else:
        p1 = np.zeros(test.height)
        pooled = predict(base + extra, fit, test)
        g_test = test[group].to_numpy()
        for g in np.unique(g_test):
            fg, tg = fit.filter(pl.col(group) == g), test.filter(pl.col(group) == g)
            idx = np.nonzero(g_test == g)[0]
            p1[idx] = predict(base + extra, fg, tg) if fg[label].n_unique() == 2 and fg.height >= 200 else pooled[idx]
    a1 = auc(y, p1)
    return out | {"auc_without": a0, "auc_with": a1, "gain": a1 - a0}


def oracle_table(root: str | Path) -> list[dict]:
    """Per scenario: impressions, clicks, oracle_auc (p_click) and oracle_auc_no_position (all days)."""
    root = Path(root)
    ev = _read(root, "events", ["event_id", "scenario_id", "click"]).join(_read(root, "truth"), on="event_id")
    rows = []
    for (sid,), g in ev.group_by(["scenario_id"], maintain_order=False):
        y = g["click"].to_numpy()
        row = {"scenario_id": int(sid), "n": g.height, "clicks": int(y.sum()),
               "oracle_auc": auc(y, g["p_click"].to_numpy())}
        if "p_click_no_position" in g.columns:
            row["oracle_auc_no_position"] = auc(y, g["p_click_no_position"].to_numpy())
        rows.append(row)
    return sorted(rows, key=lambda r: r["scenario_id"])


# ------------------------------------------------------------------------------------------ mechanisms
def check_view_conversion(root: str | Path) -> dict:
    """CTCVR given a click, per USR scenario: base = purchasing power - price level; search adds the query-item
    match (query category = item leaf, attribute words of the query in the title), the feed adds cheapness
    (price level <= 1) and the item's background clicks. Also the test-window CTCVR positives."""
    root = Path(root)
    ev = _read(root, "events", ["ts", "user_id", "item_id", "scenario_id", "click", "conversion", "query_id"])
    ev = ev.with_columns(_day(root))
    items = _read(root, "items", ["item_id", "price_level", "category_path", "title_tokens"])
    users = _read(root, "users", ["user_id", "purchasing_power"])
    pop = (ev.filter((pl.col("day") < FIT_FROM) & (pl.col("click") == 1)).group_by("item_id").len("bg_clicks"))
    clicked = (ev.filter(pl.col("click") == 1).join(items, on="item_id").join(users, on="user_id")
               .join(pop, on="item_id", how="left")
               .with_columns(gap=pl.col("purchasing_power").cast(pl.Float64) - pl.col("price_level").cast(pl.Float64),
                             cheap=(pl.col("price_level") <= 1).cast(pl.Float64),
                             logpop=pl.col("bg_clicks").fill_null(0).cast(pl.Float64).log1p()))
    q = _read(root, "queries", ["query_id", "tokens", "category"])
    s = (clicked.filter(pl.col("scenario_id") == SEARCH).join(q, on="query_id", how="left")
         .with_columns(leaf_match=(pl.col("category") == pl.col("category_path").list.get(2)).cast(pl.Float64),
                       attr_hits=pl.col("tokens").list.slice(1).list.set_intersection(pl.col("title_tokens"))
                       .list.len().cast(pl.Float64)))
    f = clicked.filter(pl.col("scenario_id") == FEED)
    return {"search": _fit_auc(s, "conversion", ["gap"], ["leaf_match", "attr_hits"]),
            "feed": _fit_auc(f, "conversion", ["gap"], ["cheap", "logpop"]),
            "search_on_feed_factors": _fit_auc(s, "conversion", ["gap"], ["cheap", "logpop"]),
            "feed_on_search_factors_n/a": "feed clicks have no query"}


def _other_kind_seen(ev: pl.DataFrame, kind_a: pl.Expr, kind_b: pl.Expr) -> pl.DataFrame:
    """Impressions of kind A with flags: the (session, item) was shown / clicked earlier in kind B."""
    b = (ev.filter(kind_b).group_by(["session_id", "item_id"])
         .agg(pl.col("ts").min().alias("b_ts"), pl.col("click").max().alias("b_click")))
    a = ev.filter(kind_a).join(b, on=["session_id", "item_id"], how="left")
    earlier = pl.col("b_ts").is_not_null() & (pl.col("b_ts") <= pl.col("ts"))
    return a.with_columns(seen=earlier.cast(pl.Float64),
                          seen_click=(earlier & (pl.col("b_click") == 1)).cast(pl.Float64),
                          pos=pl.col("position").cast(pl.Float64))


def check_cross_overlap(root: str | Path) -> dict:
    """Share of search clicks on items shown in a feed earlier in the same session (and vice versa), and the
    click-AUC gain of those flags (base: position) in search_text and feed_main."""
    root = Path(root)
    ev = _read(root, "events", ["ts", "session_id", "item_id", "scenario_id", "click", "position"]).with_columns(
        _day(root))
    search, feed = pl.col("scenario_id") < 10, pl.col("scenario_id").is_between(10, 99)
    s = _other_kind_seen(ev, search, feed)
    f = _other_kind_seen(ev, feed, search)
    sc, fc = s.filter(pl.col("click") == 1), f.filter(pl.col("click") == 1)
    return {
        "search_clicks_seen_in_feed": float(sc["seen"].mean()),
        "feed_clicks_seen_in_search": float(fc["seen"].mean()),
        "search": _fit_auc(s.filter(pl.col("scenario_id") == SEARCH), "click", ["pos"], ["seen", "seen_click"]),
        "feed": _fit_auc(f.filter(pl.col("scenario_id") == FEED), "click", ["pos"], ["seen", "seen_click"]),
    }


def share_frame(root: str | Path) -> pl.DataFrame:
    """Share impressions (days >= 14) with observable relation features between sharer and candidate:
    friend, pay out (sharer pays candidate), pay in, share count (share view), log(1 + interaction count)
    (view ``interact``, v2), the candidate's friends who clicked the item's level-2 category before the impression's day (log1p), the
    level-1 subtree and the item's level-2 category (column ``leaf``)."""
    root = Path(root)
    t0 = _t0(root)
    meta = yaml.safe_load((root / "dataset.yaml").read_text())
    subtree = {s["id"]: (s.get("tree_path") or ["", ""])[1] for s in meta["scenarios"] if s["kind"] == "share"}
    ev = _read(root, "events", ["ts", "user_id", "item_id", "scenario_id", "click", "target_user_id", "position"])
    ev = ev.with_columns(_day(root))
    soc = _read(root, "social", ["src_user_id", "dst_user_id", "view", "weight"])
    items = _read(root, "items", ["item_id", "category_path"]).with_columns(leaf=pl.col("category_path").list.get(1))
    sh = ev.filter((pl.col("scenario_id") >= 100) & (pl.col("day") >= FIT_FROM)).join(
        items.select("item_id", "leaf"), on="item_id")

    def view(name: str, col: str, value: pl.Expr) -> pl.DataFrame:
        return (soc.filter(pl.col("view") == name).group_by(["src_user_id", "dst_user_id"])
                .agg(value.alias(col)))

    on_out = {"user_id": "src_user_id", "target_user_id": "dst_user_id"}
    for name, col, val in [("friend", "friend", pl.lit(1.0)), ("pay", "pay_out", pl.lit(1.0)),
                           ("share", "share_cnt", pl.col("weight").sum()), ("interact", "interact", pl.col("weight").sum())]:
        v = view(name, col, val).rename({"src_user_id": "user_id", "dst_user_id": "target_user_id"})
        sh = sh.join(v, on=list(on_out), how="left")
    pin = view("pay", "pay_in", pl.lit(1.0)).rename({"src_user_id": "target_user_id", "dst_user_id": "user_id"})
    sh = sh.join(pin, on=["user_id", "target_user_id"], how="left")
    # the candidate's friends who clicked an item of the shared item's level-2 category before that day
    first = (ev.filter((pl.col("click") == 1) & (pl.col("scenario_id") < 100))
             .join(items.select("item_id", "leaf"), on="item_id").group_by(["user_id", "leaf"])
             .agg(pl.col("day").min().alias("first_day")))
    friends = soc.filter(pl.col("view") == "friend").select(
        pl.col("src_user_id").alias("target_user_id"), pl.col("dst_user_id").alias("friend_id")).unique()
    pairs = sh.select("target_user_id", "leaf", "day").unique()
    cnt = (pairs.join(friends, on="target_user_id").join(first.rename({"user_id": "friend_id"}), on=["friend_id", "leaf"])
           .filter(pl.col("first_day") < pl.col("day")).group_by(["target_user_id", "leaf", "day"]).len("friends_clicked"))
    sh = sh.join(cnt, on=["target_user_id", "leaf", "day"], how="left")
    del t0
    return sh.with_columns(
        *[pl.col(c).fill_null(0).cast(pl.Float64) for c in ("friend", "pay_out", "pay_in", "share_cnt", "interact")],
        pos=pl.col("position").cast(pl.Float64),
        log_interact=pl.col("interact").fill_null(0).cast(pl.Float64).log1p(),
        log_share=pl.col("share_cnt").fill_null(0).cast(pl.Float64).log1p(),
        diffusion=pl.col("friends_clicked").fill_null(0).cast(pl.Float64).log1p(),
        subtree=pl.col("scenario_id").replace_strict(subtree, default="", return_dtype=pl.String),
    )


SHARE_BASE = ["pos", "friend", "pay_out", "pay_in", "log_share", "log_interact"]


def check_social_diffusion(root: str | Path, frame: pl.DataFrame | None = None) -> dict:
    """Share-choice AUC gain of the candidate's friends who clicked the item's level-2 category (base: the
    observable relations)."""
    sh = share_frame(root) if frame is None else frame
    return _fit_auc(sh, "click", SHARE_BASE, ["diffusion"]) | {"mean_diffusion": float(sh["diffusion"].mean())}


def check_leaf_specificity(root: str | Path, frame: pl.DataFrame | None = None) -> dict:
    """Share-choice AUC of one model per level-1 subtree vs one pooled model, on the observable relations."""
    sh = share_frame(root) if frame is None else frame
    return _fit_auc(sh, "click", SHARE_BASE, [], group="subtree")


# ------------------------------------------------------------------------------------- measured only
def measure_intent_flow(root: str | Path) -> dict:
    """Within sessions: the share visiting more than one scenario kind, the transition shares between
    consecutive requests' kinds, and the share of search clicks whose leaf equals an earlier feed click's leaf
    in the same session."""
    root = Path(root)
    ev = _read(root, "events", ["ts", "session_id", "request_id", "scenario_id", "item_id", "click"])
    kind = (pl.when(pl.col("scenario_id") == 0).then(pl.lit("text")).when(pl.col("scenario_id") == 1)
            .then(pl.lit("visual")).when(pl.col("scenario_id") == 2).then(pl.lit("similar"))
            .when(pl.col("scenario_id") < 100).then(pl.lit("feed")).otherwise(pl.lit("share")))
    req = (ev.group_by("request_id").agg(pl.col("session_id").first(), pl.col("ts").min(),
                                         pl.col("scenario_id").first()).with_columns(kind=kind)
           .sort(["session_id", "ts", "request_id"]))
    req = req.with_columns(nxt=pl.col("kind").shift(-1).over("session_id"))
    multi = req.group_by("session_id").agg(pl.col("kind").n_unique().alias("k"))
    tr = req.filter(pl.col("nxt").is_not_null() & (pl.col("nxt") != pl.col("kind")))
    shares = (tr.group_by(["kind", "nxt"]).len().with_columns(share=pl.col("len") / pl.col("len").sum().over("kind")))
    items = _read(root, "items", ["item_id", "category_path"]).with_columns(leaf=pl.col("category_path").list.get(2))
    clicks = ev.filter(pl.col("click") == 1).join(items.select("item_id", "leaf"), on="item_id")
    feed_leaf = (clicks.filter(pl.col("scenario_id").is_between(10, 99)).group_by(["session_id", "leaf"])
                 .agg(pl.col("ts").min().alias("f_ts")))
    sc = clicks.filter(pl.col("scenario_id") < 10).join(feed_leaf, on=["session_id", "leaf"], how="left")
    return {
        "sessions_multi_kind": float((multi["k"] > 1).mean()),
        "transitions": {f"{r['kind']}->{r['nxt']}": round(float(r["share"]), 4) for r in shares.iter_rows(named=True)},
        "search_clicks_on_leaf_of_earlier_feed_click": float(
            (sc["f_ts"].is_not_null() & (sc["f_ts"] <= sc["ts"])).mean()),
    }


def measure_scenario_content(root: str | Path) -> dict:
    """search_similar: click AUC of cos(emb_x[item], emb_x[trigger]) for each search scenario's exposed
    embedding x: the scenario's own exposed part should predict best (texture), the others by the common part."""
    root = Path(root)
    ev = _read(root, "events", ["scenario_id", "item_id", "trigger_item_id", "click"]).filter(pl.col("scenario_id") == 2)
    cols = ["emb_search_text", "emb_search_visual", "emb_search_similar"]
    items = _read(root, "items", ["item_id", *cols])
    emb = {c: np.asarray(items[c].to_list(), np.float64) for c in cols}
    idx = {int(i): k for k, i in enumerate(items["item_id"].to_numpy())}
    a = np.array([idx[int(i)] for i in ev["item_id"].to_numpy()])  # noqa: C416 - dict lookup of ids
    b = np.array([idx[int(i)] for i in ev["trigger_item_id"].to_numpy()])
    y = ev["click"].to_numpy()
    return {c: auc(y, (emb[c][a] * emb[c][b]).sum(1)) for c in cols}


def measure_long_tail_transfer(root: str | Path) -> dict:
    """Per ordered pair of search scenarios (A, B): among items with 1-2 clicks in A, the share with >= 1 click
    in B (BOMGraph's cross-scenario augmentation has something to transfer only where this is > 0)."""
    root = Path(root)
    ev = _read(root, "events", ["scenario_id", "item_id", "click"]).filter((pl.col("scenario_id") < 10) &
                                                                          (pl.col("click") == 1))
    c = ev.group_by(["item_id", "scenario_id"]).len()
    out = {}
    for a in (0, 1, 2):
        tail = c.filter((pl.col("scenario_id") == a) & (pl.col("len") < 3)).select("item_id")
        for b in (0, 1, 2):
            if a != b:
                hit = tail.join(c.filter(pl.col("scenario_id") == b), on="item_id").height
                out[f"{a}->{b}"] = hit / max(tail.height, 1)
    return out


def measure_multi_feed_overlap(root: str | Path) -> dict:
    """Feeds: share of (user, item) pairs shown in >= 2 feeds, of users active in >= 2 feeds, and of feed
    impressions without a click (the unlabelled exposures SASS pre-trains on, all kept)."""
    root = Path(root)
    ev = _read(root, "events", ["user_id", "item_id", "scenario_id", "click"]).filter(
        pl.col("scenario_id").is_between(10, 99))
    pairs = ev.group_by(["user_id", "item_id"]).agg(pl.col("scenario_id").n_unique().alias("k"))
    users = ev.group_by("user_id").agg(pl.col("scenario_id").n_unique().alias("k"))
    return {"pairs_in_2plus_feeds": float((pairs["k"] > 1).mean()), "users_in_2plus_feeds": float((users["k"] > 1).mean()),
            "feed_impressions_without_click": float(1 - ev["click"].mean())}
