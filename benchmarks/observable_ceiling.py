"""The observable ceiling (issue 31, build item 3): a gradient-boosted model per scenario on hand-made features of
the written columns only, beside the oracle.

    .venv/bin/python benchmarks/observable_ceiling.py --data /tmp/sim_small [--scenarios search_text feed_main share]

Features come from the canonical files (events, items, users, queries, social) only; truth's ``p_click`` on the same
test rows is the oracle column, never a feature, and ``latent/`` is not read. The split is the dataset's own rule
(``SplitAssigner.for_dataset``, as the loader uses it). Count features ("history") are clicks and impressions in the
background + train windows; a train row's train part leaves out its own fold (``--folds`` by session: out-of-fold
target statistics), valid / test rows see all of it. Taste vectors (mean content embedding of a user's clicked items)
use the background window only. LightGBM is fitted on train, early-stopped on valid AUC; test AUC without and with
``events.position`` as a feature. The share leaves are pooled into one ``share`` row (their leaf id a feature).
Writes benchmarks/results/observable-ceiling.json (format ``unisr-benchmark/1``, ``src/unisr/bench/page.py``).

Shapes:
    (no tensors) dataset folder -> per-scenario feature frames [rows, features] -> {scenario: AUCs} -> JSON
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

from unisr.data.schema import DatasetSpec
from unisr.data.split import SPLIT_CODES, SplitAssigner, splitmix64
from unisr.evaluate.metrics import auc

DAY = 86400
BG, TRAIN, VALID, TEST = (SPLIT_CODES[s] for s in ("background", "train", "valid", "test"))
PRIOR = 20.0  # pseudo-impressions of the smoothed CTRs
# chosen by valid AUC (search_text, feed_main, feed_deals, share) over (63 leaves, 100, 0.05) and (31, 200, 0.03)
PARAMS = {"objective": "binary", "metric": "auc", "learning_rate": 0.03, "num_leaves": 15, "min_data_in_leaf": 200,
          "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 1.0,
          "deterministic": True, "force_row_wise": True, "verbose": -1}
EARLY_STOP = 50  # rounds without a better valid AUC
COMMON = {"price_level": "item price level", "purchasing_power": "user purchasing power",
          "price_gap": "price level - purchasing power", "price_absgap": "|price level - purchasing power|",
          "gender": "user gender", "age_level": "user age level", "item_l1": "item level-1 category id",
          "age_days": "item age at the event (ts - created_ts, days)", "item_clk": "item clicks (history)",
          "item_imp": "item impressions (history)", "item_ctr": "item smoothed CTR",
          "item_scn_clk": "item clicks in this scenario", "item_scn_ctr": "item smoothed CTR in this scenario",
          "user_clk": "user clicks (history)", "user_imp": "user impressions", "user_ctr": "user smoothed CTR",
          "user_leaf_clk": "user clicks in the item's leaf", "user_l2_clk": "user clicks in the item's level-2",
          "user_l1_clk": "user clicks in the item's level-1", "user_brand_clk": "user clicks on the item's brand",
          "user_leaf_share": "user's share of clicks in the item's leaf", "user_l1_share": "same, level-1",
          "user_item_imp": "times the user saw this item before", "user_item_clk": "times the user clicked it",
          "taste_image": "user's mean clicked image_emb (background) . item image_emb",
          "taste_text": "same with emb_search_text", "taste_similar": "same with emb_search_similar"}
TEXT = {"q_ntok": "query tokens", "q_hit": "query tokens found in the item's title_tokens",
        "q_share": "q_hit / q_ntok", "q_word_hit": "the query's first (category) word in the title",
        "q_attr_hit": "query attribute words (tokens after the first) in the title",
        "q_attr_share": "q_attr_hit / attribute words", "q_cat_leaf": "queries.category == item leaf",
        "q_cat_l2": "== item level-2 (of the query's leaf)", "q_cat_l1": "== item level-1",
        "query_imp": "query impressions (history)", "query_item_clk": "(query, item) clicks (history)",
        "query_item_imp": "(query, item) impressions", "query_item_ctr": "(query, item) smoothed CTR"}
VISUAL = {"q_img_dot": "query emb . item image_emb", "q_cat_leaf": TEXT["q_cat_leaf"], "q_cat_l2": TEXT["q_cat_l2"],
          "q_cat_l1": TEXT["q_cat_l1"]}
SIMILAR = {"t_leaf": "trigger item's leaf == item leaf", "t_l2": "same level-2", "t_l1": "same level-1",
           "t_brand": "same brand", "t_shop": "same shop", "t_img_dot": "trigger image_emb . item image_emb",
           "t_sim_dot": "trigger emb_search_similar . item's", "t_text_dot": "trigger emb_search_text . item's",
           "t_title_hit": "trigger title tokens found in the item's title",
           "t_price_gap": "|price level - trigger's|", "query_imp": TEXT["query_imp"],
           "query_item_clk": TEXT["query_item_clk"], "query_item_imp": TEXT["query_item_imp"],
           "query_item_ctr": TEXT["query_item_ctr"]}
SHARE = {"leaf_id": "the share leaf (scenario id)", "s_friend": "friend edge user -> target",
         "s_pay": "pay edge weight user -> target", "s_share": "earlier shares user -> target (social share view)",
         "s_friend_back": "friend edge target -> user", "s_pay_back": "pay edge weight target -> user (pay in)",
         "s_interact": "interaction count user -> target (social interact view, data version 2; 0 in v1)",
         "tgt_clk": "target's clicks (history)",
         "tgt_leaf_clk": "target's clicks in the item's leaf", "tgt_l1_clk": "target's clicks in the item's level-1",
         "tgt_taste_image": "target's mean clicked image_emb . item image_emb", "price_level": COMMON["price_level"]}
KIND_FEATURES = {"search_text": {**COMMON, **TEXT}, "search_visual": {**COMMON, **VISUAL},
                 "search_similar": {**COMMON, **SIMILAR}, "recommend": COMMON, "share": SHARE}
COUNTS = {"item": ["item_id"], "item_scn": ["item_id", "scenario_id"], "user": ["user_id"],
          "user_leaf": ["user_id", "leaf"], "user_l2": ["user_id", "l2"], "user_l1": ["user_id", "l1"],
          "user_brand": ["user_id", "brand"], "user_item": ["user_id", "item_id"],
          "query": ["query_id"], "query_item": ["query_id", "item_id"]}
SHARE_COUNTS = {"tgt": ("user", ["target_user_id"]), "tgt_leaf": ("user_leaf", ["target_user_id", "leaf"]),
                "tgt_l1": ("user_l1", ["target_user_id", "l1"])}


@dataclass
class Tables:
    """Side tables as dense arrays indexed by ``item_row`` / ``query_row``; taste matrices by ``user_row``."""

    title: np.ndarray  # [n_items, T] int32, 0 = padding
    emb: dict[str, np.ndarray]  # image_emb / emb_search_text / emb_search_similar -> [n_items, d]
    qtok: np.ndarray  # [n_queries, L] int32, -1 = padding
    qemb: np.ndarray  # [n_queries, d] (0 where a query has none)
    taste: dict[str, np.ndarray]  # same keys as emb -> [n_users, d]
    social: pl.DataFrame  # user_id, target_user_id, s_friend, s_pay, s_share
    users: pl.DataFrame  # user_id, user_row
    parents: pl.DataFrame  # q_category (a leaf id), q_l2, q_l1: its parents in the items' category_path


def _pad(col: pl.Series, fill: int) -> np.ndarray:
    width = max(int(col.list.len().max() or 0), 1)
    return np.stack([col.list.get(k, null_on_oob=True).fill_null(fill).to_numpy() for k in range(width)], 1)


def _mat(col: pl.Series) -> np.ndarray:
    width = max(int(col.list.len().max() or 0), 1)
    return col.fill_null([0.0] * width).list.to_array(width).to_numpy().astype(np.float32)


def load_events(root: Path, folds: int) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Events with split code, fold (train rows only, -1 otherwise), item and user columns and row indices."""
    spec = DatasetSpec.load(root)
    ev = pl.read_parquet(root / "events.parquet")
    code = SplitAssigner.for_dataset(root, spec.split).assign(ev["event_id"].to_numpy(), ev["ts"].to_numpy())
    fold = (splitmix64(ev["session_id"].fill_null(-1).to_numpy(), 7) % np.uint64(folds)).astype(np.int8)
    ev = ev.with_columns(split=pl.Series(code), fold=pl.Series(np.where(code == TRAIN, fold, -1).astype(np.int8)))
    items, users, queries = (pl.read_parquet(root / f"{t}.parquet").with_row_index(f"{r}_row").with_columns(
        pl.col(f"{r}_row").cast(pl.Int64)) for t, r in (("items", "item"), ("users", "user"), ("queries", "query")))
    items = items.with_columns(l1=pl.col("category_path").list.get(0), l2=pl.col("category_path").list.get(1),
                               leaf=pl.col("category_path").list.get(2))
    icols = ["item_id", "item_row", "l1", "l2", "leaf", "brand", "shop", "price_level", "created_ts"]
    trig = items.select(pl.col(c).alias(f"t_{c}") for c in icols).rename({"t_item_id": "trigger_item_id"})
    ev = (ev.join(items.select(icols), on="item_id", how="left", maintain_order="left")
          .join(users.select("user_id", "user_row", "gender", "age_level", "purchasing_power"), on="user_id",
                how="left", maintain_order="left")
          .join(queries.select("query_id", "query_row", pl.col("category").alias("q_category")), on="query_id",
                how="left", maintain_order="left")
          .join(trig, on="trigger_item_id", how="left", maintain_order="left"))
    return ev, items, queries, users.select("user_id", "user_row")


def load_tables(root: Path, ev: pl.DataFrame, items: pl.DataFrame, queries: pl.DataFrame,
                users: pl.DataFrame) -> Tables:
    n_users = len(users)
    emb = {k: _mat(items[k]) for k in ("image_emb", "emb_search_text", "emb_search_similar")}
    clicks = ev.filter((pl.col("split") == BG) & (pl.col("click") == 1))
    u, i = clicks["user_row"].to_numpy(), clicks["item_row"].to_numpy()
    cnt = np.maximum(np.bincount(u, minlength=n_users), 1).astype(np.float32)[:, None]
    taste = {}
    for k, m in emb.items():
        s = np.zeros((n_users, m.shape[1]), np.float32)
        np.add.at(s, u, m[i])
        taste[k] = s / cnt
    so = pl.read_parquet(root / "social.parquet").rename({"src_user_id": "user_id", "dst_user_id": "target_user_id"})
    soc = pl.DataFrame({"user_id": [], "target_user_id": []}, schema={"user_id": pl.Int64, "target_user_id": pl.Int64})
    for view in ("friend", "pay", "share", "interact"):  # a missing view stays 0 (interact: data version 2)
        w = so.filter(pl.col("view") == view).group_by("user_id", "target_user_id").agg(pl.col("weight").sum())
        soc = soc.join(w.rename({"weight": f"s_{view}"}), on=["user_id", "target_user_id"], how="full", coalesce=True)
    return Tables(title=_pad(items["title_tokens"], 0).astype(np.int32), emb=emb,
                  qtok=_pad(queries["tokens"], -1).astype(np.int32), qemb=_mat(queries["emb"]), taste=taste,
                  social=soc, users=users, parents=items.select(
                      pl.col("leaf").alias("q_category"), pl.col("l2").alias("q_l2"), pl.col("l1").alias("q_l1"))
                  .unique("q_category").sort("q_category"))


def count_tables(ev: pl.DataFrame) -> dict[str, tuple[pl.DataFrame, pl.DataFrame]]:
    """Per key set: (totals over background + train, train totals per fold) of clicks ``c`` and impressions ``n``."""
    hist = ev.filter(pl.col("split").is_in([BG, TRAIN]))
    agg = [pl.col("click").sum().cast(pl.Float32).alias("c"), pl.len().cast(pl.Float32).alias("n")]
    out = {}
    for name, keys in COUNTS.items():
        h = hist.drop_nulls(keys)
        out[name] = (h.group_by(keys).agg(agg), h.filter(pl.col("fold") >= 0).group_by([*keys, "fold"]).agg(agg))
    return out


def add_counts(rows: pl.DataFrame, tables: tuple[pl.DataFrame, pl.DataFrame], keys: list[str], name: str,
               left: list[str] | None = None) -> pl.DataFrame:
    """``{name}_clk`` / ``{name}_imp``: the history counts of each row's key, less its own fold's (train rows)."""
    left = left or keys
    ren = dict(zip(keys, left, strict=True))
    tot, part = tables
    rows = rows.join(tot.rename({**ren, "c": "_c", "n": "_n"}), on=left, how="left", maintain_order="left").join(
        part.rename({**ren, "c": "_cf", "n": "_nf"}), on=[*left, "fold"], how="left", maintain_order="left")
    return rows.with_columns(
        (pl.col("_c").fill_null(0) - pl.col("_cf").fill_null(0)).alias(f"{name}_clk"),
        (pl.col("_n").fill_null(0) - pl.col("_nf").fill_null(0)).alias(f"{name}_imp")).drop("_c", "_n", "_cf", "_nf")


def _ctr(name: str, prior: float) -> pl.Expr:
    return ((pl.col(f"{name}_clk") + PRIOR * prior) / (pl.col(f"{name}_imp") + PRIOR)).alias(f"{name}_ctr")


def auc_se(a: float, n_pos: int, n_neg: int) -> float:
    """Hanley & McNeil's standard error of an AUC ``a`` on ``n_pos`` positives and ``n_neg`` negatives."""
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    return float(np.sqrt((a * (1 - a) + (n_pos - 1) * (q1 - a * a) + (n_neg - 1) * (q2 - a * a)) / (n_pos * n_neg)))


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("rd,rd->r", a, b).astype(np.float32)


def _overlap(a: np.ndarray, b: np.ndarray, chunk: int = 100_000) -> np.ndarray:
    """[R, A]: whether each of ``a``'s entries [R, A] occurs in its row of ``b`` [R, B] (paddings never match)."""
    out = np.empty((len(a), a.shape[1]), bool)
    for s in range(0, len(a), chunk):
        out[s:s + chunk] = (a[s:s + chunk, :, None] == b[s:s + chunk, None, :]).any(-1)
    return out


def common_features(rows: pl.DataFrame, tabs: Tables, counts: dict, prior: float) -> pl.DataFrame:
    for name in ("item", "item_scn", "user", "user_leaf", "user_l2", "user_l1", "user_brand", "user_item"):
        rows = add_counts(rows, counts[name], COUNTS[name], name)
    u, i = rows["user_row"].to_numpy(), rows["item_row"].to_numpy()
    taste = {f"taste_{k.removeprefix('emb_search_').removesuffix('_emb')}": _dot(tabs.taste[k][u], tabs.emb[k][i])
             for k in tabs.emb}
    return rows.with_columns(
        _ctr("item", prior), _ctr("item_scn", prior), _ctr("user", prior), item_l1=pl.col("l1"),
        price_gap=pl.col("price_level").cast(pl.Int16) - pl.col("purchasing_power"),
        price_absgap=(pl.col("price_level").cast(pl.Int16) - pl.col("purchasing_power")).abs(),
        age_days=(pl.col("ts") - pl.col("created_ts")) / DAY,
        user_leaf_share=pl.col("user_leaf_clk") / (pl.col("user_clk") + 1),
        user_l1_share=pl.col("user_l1_clk") / (pl.col("user_clk") + 1), **taste)


def query_category(rows: pl.DataFrame, tabs: Tables) -> pl.DataFrame:
    """queries.category (a leaf id) vs the item's leaf / level-2 / level-1 (the query leaf's parents)."""
    rows = rows.join(tabs.parents, on="q_category", how="left", maintain_order="left")
    return rows.with_columns(q_cat_leaf=(pl.col("q_category") == pl.col("leaf")).cast(pl.Int8),
                             q_cat_l2=(pl.col("q_l2") == pl.col("l2")).cast(pl.Int8),
                             q_cat_l1=(pl.col("q_l1") == pl.col("l1")).cast(pl.Int8)).drop("q_l2", "q_l1")


def text_features(rows: pl.DataFrame, tabs: Tables) -> pl.DataFrame:
    q = tabs.qtok[rows["query_row"].to_numpy()]
    hit = _overlap(q, tabs.title[rows["item_row"].to_numpy()])
    ntok = (q >= 0).sum(1)
    attr = np.maximum(ntok - 1, 0)
    return query_category(rows.with_columns(
        q_ntok=pl.Series(ntok), q_hit=pl.Series(hit.sum(1)), q_share=pl.Series(hit.sum(1) / np.maximum(ntok, 1)),
        q_word_hit=pl.Series(hit[:, 0].astype(np.int8)), q_attr_hit=pl.Series(hit[:, 1:].sum(1)),
        q_attr_share=pl.Series(np.where(attr > 0, hit[:, 1:].sum(1) / np.maximum(attr, 1), np.nan))), tabs)


def visual_features(rows: pl.DataFrame, tabs: Tables) -> pl.DataFrame:
    d = _dot(tabs.qemb[rows["query_row"].to_numpy()], tabs.emb["image_emb"][rows["item_row"].to_numpy()])
    return query_category(rows.with_columns(q_img_dot=pl.Series(d)), tabs)


def similar_features(rows: pl.DataFrame, tabs: Tables) -> pl.DataFrame:
    t, i = rows["t_item_row"].fill_null(0).to_numpy(), rows["item_row"].to_numpy()
    tt = tabs.title[t]
    hit = _overlap(np.where(tt > 0, tt, -1), tabs.title[i]).sum(1)
    same = {f"t_{c}": (pl.col(f"t_{c}") == pl.col(c)).cast(pl.Int8) for c in ("leaf", "l2", "l1", "brand", "shop")}
    return rows.with_columns(
        t_img_dot=pl.Series(_dot(tabs.emb["image_emb"][t], tabs.emb["image_emb"][i])),
        t_sim_dot=pl.Series(_dot(tabs.emb["emb_search_similar"][t], tabs.emb["emb_search_similar"][i])),
        t_text_dot=pl.Series(_dot(tabs.emb["emb_search_text"][t], tabs.emb["emb_search_text"][i])),
        t_title_hit=pl.Series(hit), t_price_gap=(pl.col("t_price_level") - pl.col("price_level")).abs(), **same)


def share_features(rows: pl.DataFrame, tabs: Tables, counts: dict) -> pl.DataFrame:
    for name, (table, left) in SHARE_COUNTS.items():
        rows = add_counts(rows, counts[table], COUNTS[table], name, left)
    back = tabs.social.select(pl.col("user_id").alias("target_user_id"), pl.col("target_user_id").alias("user_id"),
                              pl.col("s_friend").alias("s_friend_back"), pl.col("s_pay").alias("s_pay_back"))
    rows = rows.join(tabs.social, on=["user_id", "target_user_id"], how="left", maintain_order="left").join(
        back, on=["user_id", "target_user_id"], how="left", maintain_order="left")
    rows = rows.join(tabs.users.rename({"user_id": "target_user_id", "user_row": "tgt_row"}), on="target_user_id",
                     how="left", maintain_order="left")
    tr, i = rows["tgt_row"].fill_null(0).to_numpy(), rows["item_row"].to_numpy()
    return rows.with_columns(
        pl.col("s_friend", "s_pay", "s_share", "s_interact", "s_friend_back", "s_pay_back").fill_null(0.0),
        leaf_id=pl.col("scenario_id"),
        tgt_taste_image=pl.Series(_dot(tabs.taste["image_emb"][tr], tabs.emb["image_emb"][i])))


def scenario_rows(ev: pl.DataFrame, spec: DatasetSpec, name: str) -> tuple[pl.DataFrame, str]:
    """The train / valid / test rows of one scenario (``share``: every share leaf) and its kind."""
    if name == "share":
        ids, kind = [s.id for s in spec.scenarios if s.kind.value == "share"], "share"
    else:
        s = spec.scenario_by_name(name)
        ids, kind = [s.id], s.kind.value
    return ev.filter(pl.col("scenario_id").is_in(ids) & pl.col("split").is_in([TRAIN, VALID, TEST])), kind


def build_features(rows: pl.DataFrame, kind: str, tabs: Tables, counts: dict, prior: float) -> pl.DataFrame:
    """The rows with every feature column of their kind (:data:`KIND_FEATURES`)."""
    if kind == "share":
        return share_features(rows, tabs, counts)
    rows = common_features(rows, tabs, counts, prior)
    if kind in ("search_text", "search_similar"):
        for name in ("query", "query_item"):
            rows = add_counts(rows, counts[name], COUNTS[name], name)
        rows = rows.with_columns(_ctr("query_item", prior))
    own = {"search_text": text_features, "search_visual": visual_features, "search_similar": similar_features}
    return own[kind](rows, tabs) if kind in own else rows


def fit_predict(rows: pl.DataFrame, feats: list[str], seed: int, threads: int, rounds: int) -> tuple[np.ndarray, dict]:
    """LightGBM on the train rows, early-stopped on valid AUC; test predictions and the fit's facts."""
    import lightgbm as lgb

    def xy(code: int) -> tuple[np.ndarray, np.ndarray]:
        part = rows.filter(pl.col("split") == code)
        return part.select(feats).cast(pl.Float32).to_numpy(), part["click"].to_numpy()

    (xtr, ytr), (xva, yva), (xte, _) = xy(TRAIN), xy(VALID), xy(TEST)
    dtr = lgb.Dataset(xtr, ytr, feature_name=feats)
    booster = lgb.train({**PARAMS, "seed": seed, "num_threads": threads}, dtr, num_boost_round=rounds,
                        valid_sets=[lgb.Dataset(xva, yva, reference=dtr)],
                        callbacks=[lgb.early_stopping(EARLY_STOP, verbose=False)])
    gain = booster.feature_importance("gain", iteration=booster.best_iteration)
    top = [feats[k] for k in np.argsort(-gain)[:6]]
    return booster.predict(xte, num_iteration=booster.best_iteration), {
        "trees": int(booster.best_iteration), "valid_auc": float(booster.best_score["valid_0"]["auc"]), "top_gain": top}


def evaluate(rows: pl.DataFrame, kind: str, truth: pl.DataFrame, seed: int, threads: int, rounds: int) -> dict:
    """Test AUC of the GBDT without / with position, the oracle's on the same rows, single-feature AUCs."""
    feats = list(KIND_FEATURES[kind])
    test = rows.filter(pl.col("split") == TEST).select("event_id", "click", *feats, "position")
    test = test.join(truth, on="event_id", how="left", maintain_order="left")
    y = test["click"].to_numpy()
    p0, f0 = fit_predict(rows, feats, seed, threads, rounds)
    p1, f1 = fit_predict(rows, [*feats, "position"], seed, threads, rounds)
    single = {f: auc(y, test[f].fill_null(0).to_numpy()) for f in ("q_hit", "q_cat_leaf", "t_img_dot") if f in feats}
    single["position"] = auc(y, -test["position"].to_numpy())
    return {"kind": kind, "events": {s: int((rows["split"] == c).sum()) for s, c in
                                     (("train", TRAIN), ("valid", VALID), ("test", TEST))},
            "test_clicks": int(y.sum()), "auc_no_position": auc(y, p0), "auc_position": auc(y, p1),
            "oracle_auc": auc(y, test["p_click"].to_numpy()), "fit_no_position": f0, "fit_position": f1,
            "single_feature_auc": single}


def pooled_feeds(ev: pl.DataFrame, spec: DatasetSpec, tabs: Tables, counts: dict, prior: float, seed: int,
                 threads: int, rounds: int) -> dict[str, dict]:
    """One GBDT on every recommend scenario's rows (scenario id a feature, as the joint deep models train), its
    test AUC per feed: the small feeds' ceiling is limited by their few training rows otherwise."""
    ids = {s.id: s.name for s in spec.scenarios if s.kind.value == "recommend"}
    rows = ev.filter(pl.col("scenario_id").is_in(list(ids)) & pl.col("split").is_in([TRAIN, VALID, TEST]))
    rows = build_features(rows, "recommend", tabs, counts, prior)
    test = rows.filter(pl.col("split") == TEST).select("scenario_id", "click")
    out: dict[str, dict] = {n: {} for n in ids.values()}
    for key, extra in (("auc_no_position", []), ("auc_position", ["position"])):
        p, fit = fit_predict(rows, [*COMMON, "scenario_id", *extra], seed, threads, rounds)
        for (sid,), g in test.with_columns(p=pl.Series(p)).group_by("scenario_id"):
            out[ids[sid]] |= {key: auc(g["click"].to_numpy(), g["p"].to_numpy()), f"trees_{key}": fit["trees"]}
    return out


def load_all(root: Path, folds: int) -> tuple[DatasetSpec, pl.DataFrame, Tables, dict, float]:
    """What every feature builder reads: the spec, the events (with their split and fold), the tables, the
    history counts and the training click rate (the smoothed CTRs' prior)."""
    spec = DatasetSpec.load(root)
    ev, items, queries, users = load_events(root, folds)
    tabs = load_tables(root, ev, items, queries, users)
    return spec, ev, tabs, count_tables(ev), float(ev.filter(pl.col("split") == TRAIN)["click"].mean())


def run(root: Path, scenarios: list[str] | None, seed: int, threads: int, rounds: int, folds: int) -> dict:
    """Every requested scenario's result (default: each non-share scenario, and the share leaves pooled)."""
    spec, ev, tabs, counts, prior = load_all(root, folds)
    names = scenarios or [s.name for s in spec.scenarios if s.kind.value != "share"] + (
        ["share"] if any(s.kind.value == "share" for s in spec.scenarios) else [])
    truth = pl.read_parquet(root / "truth.parquet", columns=["event_id", "p_click"])
    out = {}
    for name in names:
        rows, kind = scenario_rows(ev, spec, name)
        if rows.filter(pl.col("split") == TEST).is_empty():
            continue
        out[name] = evaluate(build_features(rows, kind, tabs, counts, prior), kind, truth, seed, threads, rounds)
        r = out[name]
        print(f"{name}: no position {r['auc_no_position']:.4f} with {r['auc_position']:.4f} "
              f"oracle {r['oracle_auc']:.4f} ({r['events']['test']:,} test events)", flush=True)
    if any(r["kind"] == "recommend" for r in out.values()):
        for name, r in pooled_feeds(ev, spec, tabs, counts, prior, seed, threads, rounds).items():
            if name in out:
                out[name]["pooled_feeds"] = r
    return out


def result_file(results: dict, command: str, settings: dict, machine: dict) -> dict:
    """The ``unisr-benchmark/1`` output file of a run."""
    pool = {n: r.get("pooled_feeds", {}) for n, r in results.items()}
    rows = [[n, f"{r['events']['test']:,} / {r['test_clicks']:,}", f"{r['auc_no_position']:.4f}",
             f"{r['auc_position']:.4f}", f"{pool[n]['auc_no_position']:.4f} / {pool[n]['auc_position']:.4f}"
             if "auc_position" in pool[n] else "-", f"{r['oracle_auc']:.4f}",
             f"{r['fit_no_position']['trees']} / {r['fit_position']['trees']}",
             ", ".join(r["fit_no_position"]["top_gain"][:4])] for n, r in results.items()]
    main = [n for n in ("search_text", "search_similar", "feed_main") if n in results] or list(results)[:3]
    figure = "; ".join(f"{n} {results[n]['auc_no_position']:.3f} / {results[n]['auc_position']:.3f}" for n in main)
    single = "; ".join(f"{n} " + ", ".join(f"{f} {a:.3f}" for f, a in r["single_feature_auc"].items())
                       for n, r in results.items())
    se = ", ".join(f"{n} {auc_se(r['auc_no_position'], r['test_clicks'], r['events']['test'] - r['test_clicks']):.3f}"
                   for n, r in results.items())
    notes = [f"single-feature test AUC: {single}. AUC standard error (Hanley & McNeil), no position: {se}",
             f"history counts: background + train windows, a train row's leave out its own fold ({settings['folds']} "
             "folds by session), valid / test rows see all; taste vectors from background clicks; `share` pools the "
             "share leaves (leaf id a feature); pooled feeds: one GBDT on every recommend scenario's rows (scenario id "
             "a feature), AUC per feed (the small feeds have too few rows for a model of their own); nothing from "
             "truth.parquet or latent/ is a feature (the features, per kind: `features` in this file); LightGBM "
             f"{json.dumps(settings)}"]
    return {"format": "unisr-benchmark/1", "benchmark": "observable-ceiling",
            "title": "Observable ceiling: a feature-engineered GBDT per scenario beside the oracle",
            "figure": f"GBDT test AUC without / with position: {figure}",
            "goal": "the bar the deep models must reach on the same test rows (issue 31)",
            "command": command, "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine,
            "tables": [{"header": ["scenario", "test events / clicks", "GBDT test AUC, no position", "with position",
                                   "pooled feeds (no / with position)", "oracle (truth p_click)",
                                   "trees (no pos / pos)", "top features (gain)"], "rows": rows}],
            "notes": notes, "features": KIND_FEATURES, "settings": settings, "scenarios": results}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--scenarios", nargs="*", help="scenario names; 'share' = the share leaves pooled")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=2000, help="most boosting rounds (early stopping: EARLY_STOP)")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "observable-ceiling.json")
    args = ap.parse_args(argv)
    from machine import machine

    results = run(args.data, args.scenarios, args.seed, args.threads, args.rounds, args.folds)
    settings = {"seed": args.seed, "rounds": args.rounds, "early_stopping": EARLY_STOP, "folds": args.folds,
                "threads": args.threads, **{k: PARAMS[k] for k in ("learning_rate", "num_leaves", "min_data_in_leaf",
                                                                  "feature_fraction", "bagging_fraction")}}
    command = " ".join([".venv/bin/python benchmarks/observable_ceiling.py", *(sys.argv[1:] if argv is None else argv)])
    data = result_file(results, command, settings, machine(args.threads))
    from unisr.bench.fingerprint import data_fingerprint

    data["data"] = data_fingerprint(args.data)  # the suites show the ceiling only beside runs on the same data
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    return data


if __name__ == "__main__":
    main()
