"""Measurements of the v2 mechanisms on a written dataset, from the observable tables only (plus truth).

Each ``check_*`` fits a simple model (scikit-learn logistic regression on standardised features) on the
days before the test window and reports the test AUC without and with the observable feature a mechanism
acts through, so ``gain = auc_with - auc_without`` is what a model can learn from it (``gain_se``: its
bootstrap standard error over test requests). ``benchmarks/
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


N_BOOT = 100  # bootstrap resamples of the test window for a gain's standard error


def _boot_se(y: np.ndarray, p0: np.ndarray, p1: np.ndarray, cluster: np.ndarray | None, n_boot: int = N_BOOT) -> float:
    """Standard error of ``auc(y, p1) - auc(y, p0)`` over test-window resamples (Poisson weights per cluster,
    i.e. per request where ``cluster`` is given: impressions of one page are not independent). The fitted
    models are kept fixed, so this is the test-sampling noise only (the seeds' spread adds the fit's)."""
    rng = np.random.default_rng(0)
    inv = np.unique(cluster, return_inverse=True)[1] if cluster is not None else np.arange(len(y))
    rows = np.arange(len(y))
    g = np.empty(n_boot)
    for b in range(n_boot):  # one resample per step, vectorised inside
        idx = np.repeat(rows, rng.poisson(1.0, inv.max() + 1)[inv])
        g[b] = auc(y[idx], p1[idx]) - auc(y[idx], p0[idx])
    return float(np.nanstd(g, ddof=1))


def _fit_auc(df: pl.DataFrame, label: str, base: list[str], extra: list[str], group: str | None = None) -> dict:
    """Test AUC of a logistic regression on ``base`` and on ``base + extra`` (fit days 14-22, test >= 22);
    ``group``: one model per value of that column (the 'with' model), pooled otherwise. ``gain_se``: the
    gain's bootstrap standard error over test requests (``_boot_se``; rows where ``df`` has no request_id)."""
    try:
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler
    except ImportError as e:  # a dev dependency (pyproject's [dev] extra)
        raise ImportError("unisr.simulate.measure needs scikit-learn: pip install -e '.[dev]'") from e

    fit = df.filter((pl.col("day") >= FIT_FROM) & (pl.col("day") < TEST_FROM))
    test = df.filter(pl.col("day") >= TEST_FROM)
    out: dict = {"n_fit": fit.height, "n_test": test.height, "test_positives": int(test[label].sum())}
    if fit[label].n_unique() < 2 or test[label].n_unique() < 2:
        return out | {"auc_without": float("nan"), "auc_with": float("nan"), "gain": float("nan"),
                      "gain_se": float("nan")}

    def predict(cols: list[str], f: pl.DataFrame, t: pl.DataFrame) -> np.ndarray:
        sc = StandardScaler().fit(f.select(cols).to_numpy().astype(np.float64))
        m = LogisticRegression(max_iter=500).fit(sc.transform(f.select(cols).to_numpy().astype(np.float64)),
                                                 f[label].to_numpy())
        return m.predict_proba(sc.transform(t.select(cols).to_numpy().astype(np.float64)))[:, 1]

    y = test[label].to_numpy()
    p0 = predict(base, fit, test)
    a0 = auc(y, p0)
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
    se = _boot_se(y, p0, p1, test["request_id"].to_numpy() if "request_id" in test.columns else None)
    return out | {"auc_without": a0, "auc_with": a1, "gain": a1 - a0, "gain_se": se}


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
VIEW_CONV_BASE = {"search": ["gap", "pos", "logpop", "cheap", "user_leaf", "sess_leaf", "l2_match"],
                  "feed": ["gap", "pos", "user_leaf", "sess_leaf"]}
VIEW_CONV_FACTORS = {"search": ["leaf_match", "attr_frac"], "feed": ["cheap", "logpop"]}


def check_view_conversion(root: str | Path) -> dict:
    """CTCVR given a click, per USR scenario: the gain of each view's own conversion factors (search: the query-
    item match, query category = item leaf and the share of the query's attribute words in the title; feed:
    cheapness, price level <= 1, and the item's log background clicks) beyond what the common conversion
    function and its observable proxies already explain (``VIEW_CONV_BASE``: purchasing power - price level,
    position, the item's background clicks and cheapness (search), the user's background and the session's
    earlier own-kind clicks on the item's leaf -- proxies of the session intent, which converts in every view --
    and, for search, the query-item level-2 match). ``search_on_feed_factors``: the feed factors tried on search
    with the feed's base (should not help). ``*_old_design``: the first design (base = purchasing power - price
    level only), kept for comparison (docs/SIMULATOR.md). Also the test-window CTCVR positives."""
    root = Path(root)
    ev = _read(root, "events", ["ts", "user_id", "session_id", "request_id", "item_id", "scenario_id", "click",
                                "position", "query_id", "conversion"]).with_columns(_day(root))
    items = _read(root, "items", ["item_id", "price_level", "category_path", "title_tokens"])
    users = _read(root, "users", ["user_id", "purchasing_power"])
    queries = _read(root, "queries", ["query_id", "tokens", "category"])
    fr = cross_overlap_frame(ev.drop("conversion"), items.drop("price_level"), queries)
    clicked = (fr.filter(pl.col("click") == 1)
               .join(ev.select("request_id", "item_id", "conversion"), on=["request_id", "item_id"])
               .join(items.select("item_id", "price_level"), on="item_id").join(users, on="user_id")
               .with_columns(gap=pl.col("purchasing_power").cast(pl.Float64) - pl.col("price_level").cast(pl.Float64),
                             cheap=(pl.col("price_level") <= 1).cast(pl.Float64)))
    s, f = clicked.filter(pl.col("scenario_id") == SEARCH), clicked.filter(pl.col("scenario_id") == FEED)
    return {"search": _fit_auc(s, "conversion", VIEW_CONV_BASE["search"], VIEW_CONV_FACTORS["search"]),
            "feed": _fit_auc(f, "conversion", VIEW_CONV_BASE["feed"], VIEW_CONV_FACTORS["feed"]),
            "search_on_feed_factors": _fit_auc(s, "conversion", VIEW_CONV_BASE["feed"], VIEW_CONV_FACTORS["feed"]),
            "search_old_design": _fit_auc(s, "conversion", ["gap"], VIEW_CONV_FACTORS["search"]),
            "feed_old_design": _fit_auc(f, "conversion", ["gap"], VIEW_CONV_FACTORS["feed"]),
            "feed_on_search_factors_n/a": "feed clicks have no query"}


def _kind() -> pl.Expr:
    """0 = search (scenario ids < 10), 1 = feed (10-99), 2 = share (>= 100)."""
    sid = pl.col("scenario_id")
    return pl.when(sid < 10).then(0).when(sid < 100).then(1).otherwise(2).cast(pl.Int8).alias("kind")


def cross_overlap_frame(ev: pl.DataFrame, items: pl.DataFrame, queries: pl.DataFrame | None = None) -> pl.DataFrame:
    """Search and feed impressions of ``ev`` with the features of the ``cross_overlap`` check.

    ``ev``: events with ts, user_id, session_id, request_id, scenario_id, item_id, click, position, day (and
    query_id where ``queries`` is given); ``items``: item_id, category_path ([level 1, level 2, leaf]) and, with
    ``queries``, title_tokens; ``queries``: query_id, tokens (category word, then attribute words), category
    (a leaf). Requests are ordered within a session by (ts, request_id), as the simulator's steps.

    The trigger (the mechanism's own input, ``engine._cross_overlap``): ``last_page`` = 1 if the item is on the
    session's most recent page of the other kind before this request (search <- the last feed page of any feed,
    feed <- the last search page of any search scenario); the first design's flags ``seen`` / ``seen_click``
    (on / clicked on an other-kind page anywhere earlier, same ts counted) are kept.
    What a ranker of the impression's own kind sees: ``pos``; ``logpop`` = log(1 + the item's clicks before day
    14); ``user_leaf`` = log(1 + the user's clicks on the item's leaf before day 14); ``sess_leaf`` = log(1 +
    clicks on the item's leaf in earlier requests of this session of the same kind); for rows with a text query:
    ``leaf_match`` (query category = item leaf), ``l2_match`` (the query leaf's level 2 = the item's) and
    ``attr_frac`` (share of the query's attribute words in the title), the observable parts of the search
    relevance; 0 for rows without a query.
    """
    leaf = items.select("item_id", pl.col("category_path").list.get(1).alias("l2"),
                        pl.col("category_path").list.get(2).alias("leaf"))
    ev = ev.with_columns(_kind()).join(leaf, on="item_id", how="left")
    req = (ev.group_by("request_id").agg(pl.col("session_id").first(), pl.col("ts").min().alias("rts"),
                                         pl.col("kind").first())
           .sort(["session_id", "rts", "request_id"]))
    # the latest request of kind k up to this one (for the other kind's requests: strictly before this one)
    last = {k: pl.when(pl.col("kind") == k).then(pl.col("request_id")).forward_fill().over("session_id")
            for k in (0, 1)}
    req = req.with_columns(last_search=last[0], last_feed=last[1]).with_columns(
        other_req=pl.when(pl.col("kind") == 0).then(pl.col("last_feed")).otherwise(pl.col("last_search")))
    pages = ev.select(pl.col("request_id").alias("other_req"), "item_id").unique().with_columns(
        last_page=pl.lit(1.0))
    a = (ev.filter(pl.col("kind") < 2).join(req.select("request_id", "rts", "other_req"), on="request_id")
         .join(pages, on=["other_req", "item_id"], how="left"))
    # the old flags: any earlier page of the other kind in the session
    b = (ev.filter(pl.col("kind") < 2).group_by(["session_id", "item_id", "kind"])
         .agg(pl.col("ts").min().alias("b_ts"), pl.col("click").max().alias("b_click"))
         .with_columns(kind=(1 - pl.col("kind")).cast(pl.Int8)))
    a = a.join(b, on=["session_id", "item_id", "kind"], how="left")
    earlier = pl.col("b_ts").is_not_null() & (pl.col("b_ts") <= pl.col("ts"))
    # background: item popularity and the user's leaf affinity before the fit window
    bg = ev.filter((pl.col("day") < FIT_FROM) & (pl.col("click") == 1))
    a = (a.join(bg.group_by("item_id").len("bg_item"), on="item_id", how="left")
         .join(bg.group_by(["user_id", "leaf"]).len("bg_user_leaf"), on=["user_id", "leaf"], how="left"))
    # the session's own-kind clicks on the item's leaf in earlier requests
    rc = (ev.filter((pl.col("click") == 1) & (pl.col("kind") < 2)).join(req.select("request_id", "rts"), on="request_id")
          .group_by(["session_id", "kind", "leaf", "rts", "request_id"]).len("n")
          .rename({"rts": "c_ts", "request_id": "c_req"}))
    keys = a.select("session_id", "kind", "leaf", "rts", "request_id").unique()
    sess = (keys.join(rc, on=["session_id", "kind", "leaf"])
            .filter((pl.col("c_ts") < pl.col("rts")) | ((pl.col("c_ts") == pl.col("rts")) & (pl.col("c_req") < pl.col("request_id"))))
            .group_by(["request_id", "leaf"]).agg(pl.col("n").sum().alias("sess_clicks")))
    a = a.join(sess, on=["request_id", "leaf"], how="left")
    if queries is not None:
        l2_of = leaf.select("leaf", "l2").unique(subset="leaf").rename({"leaf": "category", "l2": "q_l2"})
        q = queries.select("query_id", "tokens", pl.col("category").cast(leaf["leaf"].dtype)).join(
            l2_of, on="category", how="left")
        a = (a.join(q, on="query_id", how="left")
             .join(items.select("item_id", "title_tokens"), on="item_id", how="left"))
        attrs = pl.col("tokens").list.slice(1)
        a = a.with_columns(
            leaf_match=(pl.col("category") == pl.col("leaf")).fill_null(False).cast(pl.Float64),
            l2_match=(pl.col("q_l2") == pl.col("l2")).fill_null(False).cast(pl.Float64),
            attr_frac=(attrs.list.set_intersection(pl.col("title_tokens")).list.len()
                       / attrs.list.len().clip(lower_bound=1)).fill_null(0.0).cast(pl.Float64))
    return a.with_columns(
        last_page=pl.col("last_page").fill_null(0.0),
        seen=earlier.cast(pl.Float64), seen_click=(earlier & (pl.col("b_click") == 1)).cast(pl.Float64),
        pos=pl.col("position").cast(pl.Float64),
        logpop=pl.col("bg_item").fill_null(0).cast(pl.Float64).log1p(),
        user_leaf=pl.col("bg_user_leaf").fill_null(0).cast(pl.Float64).log1p(),
        sess_leaf=pl.col("sess_clicks").fill_null(0).cast(pl.Float64).log1p(),
    )


CROSS_BASE = {"search": ["pos", "logpop", "user_leaf", "sess_leaf", "leaf_match", "l2_match", "attr_frac"],
              "feed": ["pos", "logpop", "user_leaf", "sess_leaf"]}


def check_cross_overlap(root: str | Path) -> dict:
    """Share of search clicks on items shown in a feed earlier in the same session (and vice versa; anywhere
    earlier and on the session's last page of the other kind), and the click-AUC gain in search_text and
    feed_main of the mechanism's trigger ``last_page`` beyond what a ranker of that kind already sees
    (``CROSS_BASE``, see ``cross_overlap_frame``). Also the first design (base position, flags "shown / clicked
    on the other kind's page anywhere earlier": ``*_old_design``) and, as a diagnostic, the new base with the
    old flags (``*_new_base_old_flags``)."""
    root = Path(root)
    ev = _read(root, "events", ["ts", "user_id", "session_id", "request_id", "item_id", "scenario_id", "click",
                                "position", "query_id"]).with_columns(_day(root))
    items = _read(root, "items", ["item_id", "category_path", "title_tokens"])
    queries = _read(root, "queries", ["query_id", "tokens", "category"])
    fr = cross_overlap_frame(ev, items, queries)
    s, f = fr.filter(pl.col("kind") == 0), fr.filter(pl.col("kind") == 1)
    sc, fc = s.filter(pl.col("click") == 1), f.filter(pl.col("click") == 1)
    s0, f0 = s.filter(pl.col("scenario_id") == SEARCH), f.filter(pl.col("scenario_id") == FEED)
    old = ["seen", "seen_click"]
    return {
        "search_clicks_seen_in_feed": float(sc["seen"].mean()),
        "feed_clicks_seen_in_search": float(fc["seen"].mean()),
        "search_clicks_on_last_feed_page": float(sc["last_page"].mean()),
        "feed_clicks_on_last_search_page": float(fc["last_page"].mean()),
        "search": _fit_auc(s0, "click", CROSS_BASE["search"], ["last_page"]),
        "feed": _fit_auc(f0, "click", CROSS_BASE["feed"], ["last_page"]),
        "search_old_design": _fit_auc(s0, "click", ["pos"], old),
        "feed_old_design": _fit_auc(f0, "click", ["pos"], old),
        "search_new_base_old_flags": _fit_auc(s0, "click", CROSS_BASE["search"], old),
        "feed_new_base_old_flags": _fit_auc(f0, "click", CROSS_BASE["feed"], old),
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
    ev = _read(root, "events", ["ts", "user_id", "item_id", "scenario_id", "click", "target_user_id", "position",
                                "request_id"])
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
