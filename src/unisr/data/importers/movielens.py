"""MovieLens-1M -> canonical dataset, following the Scenario-Wise Rec protocol (Li et al., 2024).

Two source layouts are read (detected from the files present in ``src``):

- GroupLens native: ``ratings.dat`` (``UserID::MovieID::Rating::Timestamp``), ``users.dat``
  (``UserID::Gender::Age::Occupation::Zip-code``), ``movies.dat`` (``MovieID::Title::Genres``, genres joined by
  ``|``); latin-1 text.
- RecBole atomic files: ``<name>.inter`` / ``<name>.user`` / ``<name>.item``, tab separated with ``name:type``
  headers; users are ``1m_<n>``; items are keyed by their title (with year) and genres are space separated.

Output: three ``recommend`` scenarios by user age ({1,18} -> 0, {25} -> 1, {35,45,50,56} -> 2), label
``click = rating > 3``, the raw ``rating`` kept as a float32 extra column, ``event_id`` = the 0-based data
row index in the ratings file, ``ts`` = the timestamp. Item ids: the native MovieID, or (RecBole, keyed by
title) 1 + the rank of the title in sorted order. User id: the integer (after ``1m_`` in RecBole).
Every item of the item file is written (3,883 for MovieLens-1M), including those never rated (3,706 are).
Unusable rows go to ``rejected.parquet`` with a reason; per source file, read = written + rejected. Values are
checked: a rating outside the format's range (``RATING_RANGE``) or not finite, a timestamp not finite or outside
the range the data gate accepts (``unisr.data.validate.TS_RANGE``) is rejected; a ratings file with no data rows,
or none usable, is ``ImportSourceError`` ("nothing to import").

Shapes:
    (no tensors) source text files -> events / users / items Parquet tables
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from unisr.data.importers.base import ImportReport, ImportSourceError, read_lines, split_fields
from unisr.data.rejected import RejectedRows
from unisr.data.schema import ColumnSplit, DatasetSpec, FeatureDecl, RandomSplit, ScenarioKind, ScenarioSpec
from unisr.data.validate import TS_RANGE

NAME = "movielens-1m"
AGE_TO_SCENARIO: dict[int, int] = {1: 0, 18: 0, 25: 1, 35: 2, 45: 2, 50: 2, 56: 2}
SCENARIOS = [
    ScenarioSpec(id=0, name="age_1_18", kind=ScenarioKind.RECOMMEND),
    ScenarioSpec(id=1, name="age_25", kind=ScenarioKind.RECOMMEND),
    ScenarioSpec(id=2, name="age_35_plus", kind=ScenarioKind.RECOMMEND),
]
EMBED_DIM = 16
FEATURES = [
    FeatureDecl(table="users", column="user_id", type="categorical", embed_dim=EMBED_DIM),
    FeatureDecl(table="items", column="item_id", type="categorical", embed_dim=EMBED_DIM),
    FeatureDecl(table="users", column="gender", type="categorical", embed_dim=EMBED_DIM),
    FeatureDecl(table="users", column="occupation", type="categorical", embed_dim=EMBED_DIM),
    FeatureDecl(table="users", column="zip", type="categorical", embed_dim=EMBED_DIM),
    FeatureDecl(table="items", column="genre_first", type="categorical", embed_dim=EMBED_DIM),
    FeatureDecl(table="users", column="age", type="dense", transform="minmax"),
]

EVENTS_SCHEMA = pa.schema([
    ("event_id", pa.int64()), ("ts", pa.int64()), ("user_id", pa.int64()), ("scenario_id", pa.int16()),
    ("item_id", pa.int64()), ("click", pa.int8()), ("rating", pa.float32()),
])
USERS_SCHEMA = pa.schema([
    ("user_id", pa.int64()), ("gender", pa.string()), ("age", pa.int16()), ("occupation", pa.int16()),
    ("zip", pa.string()),
])
ITEMS_SCHEMA = pa.schema([
    ("item_id", pa.int64()), ("title", pa.string()), ("year", pa.int16()), ("genre_first", pa.string()),
    ("genres", pa.list_(pa.string())),
])
ROW_GROUP = 262_144
RATING_RANGE = (0.5, 5.0)  # MovieLens stars (1M: whole stars 1..5; the later releases half stars from 0.5)

# RecBole field names (before ``:type``) of each atomic file.
RB_INTER = ("user_id", "item_id", "rating", "timestamp")
RB_USER = ("user_id", "age", "gender", "occupation", "zip_code")
RB_ITEM = ("item_id", "genre")


@dataclass(frozen=True)
class _Layout:
    variant: str  # "grouplens" or "recbole"
    ratings: Path
    users: Path
    items: Path


def detect_layout(src: str | Path) -> _Layout:
    """Find the source files; raises ``ImportSourceError`` naming what is missing."""
    src = Path(src)
    if not src.is_dir():
        raise ImportSourceError(f"{src}: no such folder")
    roots = [src] + ([src / "ml-1m"] if (src / "ml-1m").is_dir() else [])
    for d in roots:
        if (d / "ratings.dat").exists():
            for f in ("users.dat", "movies.dat"):
                if not (d / f).exists():
                    raise ImportSourceError(f"{d / f}: missing (GroupLens MovieLens needs ratings.dat, users.dat, "
                                            "movies.dat)")
            return _Layout("grouplens", d / "ratings.dat", d / "users.dat", d / "movies.dat")
        inters = sorted(d.glob("*.inter"))
        if inters:
            inter = next((p for p in inters if p.stem == "ml-1m"), inters[0])
            for ext in (".user", ".item"):
                if not inter.with_suffix(ext).exists():
                    raise ImportSourceError(f"{inter.with_suffix(ext)}: missing (RecBole MovieLens needs "
                                            f"{inter.stem}.inter, {inter.stem}.user, {inter.stem}.item)")
            return _Layout("recbole", inter, inter.with_suffix(".user"), inter.with_suffix(".item"))
    raise ImportSourceError(
        f"{src / 'ratings.dat'}: missing; no MovieLens files in {src} (expected GroupLens ratings.dat, "
        "users.dat, movies.dat or RecBole <name>.inter, <name>.user, <name>.item)"
    )


# ------------------------------------------------------------------------------------------ parsing
def _recbole(path: Path, need: tuple[str, ...]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Parse an atomic file: (rows with one column per header field name, rows with a wrong field count)."""
    df, header = read_lines(path, skip_header=True)
    names = [h.split(":", 1)[0].strip() for h in (header or "").split("\t")]
    missing = [n for n in need if n not in names]
    if missing:
        raise ImportSourceError(f"{path}: header lacks field(s) {missing} (header: {header!r})")
    return split_fields(df, "\t", names)


def _first_reason(checks: list[tuple[pl.Expr, str]]) -> pl.Expr:
    """A ``reason`` column: the message of the first failing check, null when every check passes."""
    expr = pl.lit(None, dtype=pl.String)
    for failed, reason in reversed(checks):
        expr = pl.when(failed).then(pl.lit(reason)).otherwise(expr)
    return expr.alias("reason")


def _int_id() -> pl.Expr:
    """The integer of an id token: ``17`` or ``1m_17`` -> 17."""
    return pl.col("user").str.extract(r"^(?:[A-Za-z0-9]*_)?(\d+)$", 1).cast(pl.Int64, strict=False)


def _number(col: str) -> pl.Expr:
    return pl.col(col).cast(pl.Float64, strict=False)


def _reject(df: pl.DataFrame, rejected: RejectedRows, source: str) -> pl.DataFrame:
    """Move rows with a non-null ``reason`` to ``rejected``; return the others without the column."""
    bad = df.filter(pl.col("reason").is_not_null())
    for (reason,), part in bad.group_by("reason", maintain_order=True):
        rejected.add(part.select("line_no", "raw").to_arrow(), str(reason), source)
    return df.filter(pl.col("reason").is_null()).drop("reason")


def _users(layout: _Layout, rejected: RejectedRows, report: ImportReport) -> pl.DataFrame:
    src = layout.users.name
    if layout.variant == "grouplens":
        df, _ = read_lines(layout.users)
        good, bad = split_fields(df, "::", ["user", "gender", "age", "occupation", "zip"])
    else:
        good, bad = _recbole(layout.users, RB_USER)
        good = good.rename({"user_id": "user", "zip_code": "zip"})
    report.read[src] = good.height + bad.height
    if report.read[src] == 0:
        raise ImportSourceError(f"{layout.ratings}: nothing to import (no rating lines)")
    rejected.add(bad.select("line_no", "raw").to_arrow(), "unparseable: wrong number of fields", src)
    good = good.with_columns(
        user_id=_int_id(), age_f=_number("age"), occ_f=_number("occupation"),
    )
    good = good.with_columns(
        scenario_id=pl.col("age_f").cast(pl.Int64, strict=False)
        .replace_strict(AGE_TO_SCENARIO, default=None, return_dtype=pl.Int16),
        dup=pl.col("user_id").is_duplicated() & ~pl.col("user_id").is_first_distinct(),
    )
    good = good.with_columns(_first_reason([
        (pl.col("user_id").is_null(), "user id not an integer"),
        (pl.col("age_f").is_null() | pl.col("age_f").is_nan(), "age not a number"),
        (pl.col("scenario_id").is_null(), "age not a MovieLens age group (1,18,25,35,45,50,56)"),
        (pl.col("occ_f").is_null() | pl.col("occ_f").is_nan(), "occupation not a number"),
        (pl.col("dup"), "duplicate user id"),
    ]))
    users = _reject(good, rejected, src).select(
        "user_id",
        pl.col("gender"),
        pl.col("age_f").cast(pl.Int16).alias("age"),
        pl.col("occ_f").cast(pl.Int16).alias("occupation"),
        pl.col("zip"),
        "scenario_id",
    )
    report.written[src] = users.height
    report.tables[src] = "users"
    return users


def _items(layout: _Layout, rejected: RejectedRows, report: ImportReport) -> pl.DataFrame:
    """Items with ``key`` (the string ratings refer to) and the canonical columns."""
    src = layout.items.name
    if layout.variant == "grouplens":
        df, _ = read_lines(layout.items)
        good, bad = split_fields(df, "::", ["key", "title", "genres_raw"])
        good = good.with_columns(
            item_id=pl.col("key").cast(pl.Int64, strict=False),
            year=pl.col("title").str.extract(r"\((\d{4})\)\s*$", 1).cast(pl.Int16, strict=False),
            genres=pl.col("genres_raw").str.split("|"),
        )
    else:
        good, bad = _recbole(layout.items, RB_ITEM)
        year = (_number("release_year").cast(pl.Int16, strict=False) if "release_year" in good.columns
                else pl.lit(None, dtype=pl.Int16))
        good = good.with_columns(
            key=pl.col("item_id"), title=pl.col("item_id"), year=year,
            genres=pl.col("genre").str.split(" "),
        ).drop("item_id")
        # a stable integer id: 1 + rank of the title among the (distinct) titles in sorted order
        good = good.with_columns(item_id=pl.col("key").rank("dense").cast(pl.Int64))
    report.read[src] = good.height + bad.height
    rejected.add(bad.select("line_no", "raw").to_arrow(), "unparseable: wrong number of fields", src)
    good = good.with_columns(
        genres=pl.col("genres").list.eval(pl.element().filter(pl.element().str.len_chars() > 0)),
        dup=pl.col("item_id").is_duplicated() & ~pl.col("item_id").is_first_distinct(),
    )
    good = good.with_columns(_first_reason([
        (pl.col("item_id").is_null(), "item id not an integer"),
        (pl.col("key").str.len_chars() == 0, "empty item key"),
        (pl.col("dup"), "duplicate item id" if layout.variant == "grouplens" else "duplicate item title"),
    ]))
    items = _reject(good, rejected, src).with_columns(
        genre_first=pl.col("genres").list.first().fill_null("unknown")
    ).select("key", "item_id", "title", "year", "genre_first", "genres")
    report.written[src] = items.height
    report.tables[src] = "items"
    return items


def _events(
    layout: _Layout, users: pl.DataFrame, items: pl.DataFrame, rejected: RejectedRows, report: ImportReport
) -> pl.DataFrame:
    src = layout.ratings.name
    if layout.variant == "grouplens":
        df, _ = read_lines(layout.ratings)
        good, bad = split_fields(df, "::", ["user", "key", "rating", "timestamp"])
        first_line = 1
    else:
        good, bad = _recbole(layout.ratings, RB_INTER)
        good = good.rename({"user_id": "user", "item_id": "key"})
        first_line = 2
    report.read[src] = good.height + bad.height
    if report.read[src] == 0:
        raise ImportSourceError(f"{layout.ratings}: nothing to import (no rating lines)")
    rejected.add(bad.select("line_no", "raw").to_arrow(), "unparseable: wrong number of fields", src)
    good = good.with_columns(
        user_id=_int_id(), rating_f=_number("rating"), ts_f=_number("timestamp"),
    )
    good = good.join(users.select("user_id", "scenario_id"), on="user_id", how="left")
    good = good.join(items.select("key", "item_id"), on="key", how="left")
    good = good.with_columns(_first_reason([
        (pl.col("user_id").is_null(), "user id not an integer"),
        (pl.col("rating_f").is_null() | pl.col("rating_f").is_nan(), "rating not a number"),
        (~pl.col("rating_f").is_finite(), "rating not finite"),
        ((pl.col("rating_f") < RATING_RANGE[0]) | (pl.col("rating_f") > RATING_RANGE[1]),
         f"rating outside [{RATING_RANGE[0]}, {RATING_RANGE[1]}]"),
        (pl.col("ts_f").is_null() | pl.col("ts_f").is_nan(), "timestamp not a number"),
        (~pl.col("ts_f").is_finite(), "timestamp not finite"),
        ((pl.col("ts_f") < TS_RANGE[0]) | (pl.col("ts_f") >= TS_RANGE[1]),
         f"timestamp outside [{TS_RANGE[0]}, {TS_RANGE[1]}) (unix seconds)"),
        (pl.col("scenario_id").is_null(), "unknown user (not in the user file)"),
        (pl.col("item_id").is_null(), "unknown item (not in the item file)"),
    ])).sort("line_no")
    events = _reject(good, rejected, src).select(
        (pl.col("line_no") - first_line).cast(pl.Int64).alias("event_id"),
        pl.col("ts_f").cast(pl.Int64).alias("ts"),
        "user_id",
        "scenario_id",
        "item_id",
        (pl.col("rating_f") > 3).cast(pl.Int8).alias("click"),
        pl.col("rating_f").cast(pl.Float32).alias("rating"),
    )
    report.written[src] = events.height
    report.tables[src] = "events"
    if events.height == 0:
        counts = {r: n for p in rejected.parts if p["source"][0].as_py() == src
                  for r, n in [(p["reason"][0].as_py(), p.num_rows)]}
        raise ImportSourceError(f"{layout.ratings}: nothing to import: none of its {report.read[src]:,} rating lines "
                                f"is usable ({', '.join(f'{n:,} {r}' for r, n in counts.items())})")
    return events


# ------------------------------------------------------------------------------ the RecBole protocol
RECBOLE_SCENARIOS = [ScenarioSpec(id=0, name="all", kind=ScenarioKind.RECOMMEND)]
RECBOLE_MIN_RATING = 3.0  # RecBole-GNN results/general/ml-1m.md: val_interval rating "[3,inf)"
RECBOLE_RATIOS = (0.8, 0.1, 0.1)  # RecBole eval_args split RS [0.8, 0.1, 0.1], group_by user, order RO
RECBOLE_SEED = 2020  # RecBole's default ``seed``


def recbole_split_counts(n: np.ndarray, ratios: tuple[float, float, float] = RECBOLE_RATIOS) -> np.ndarray:
    """[U, 3] train / valid / test sizes of users with ``n`` [U] interactions, exactly as RecBole's
    ``Dataset._calcu_split_ids``: valid and test get ``int(ratio * n)`` each, train the rest; then, for test and
    then valid, while train keeps more than one row, a part with ``0 < ratio * n < 1`` takes one row from train."""
    n = np.asarray(n, np.int64)
    cnt = np.stack([np.zeros_like(n)] + [(r * n.astype(np.float64)).astype(np.int64) for r in ratios[1:]], 1)
    cnt[:, 0] = n - cnt[:, 1:].sum(1)
    active = np.ones(len(n), bool)
    for i in range(1, len(ratios)):  # RecBole's loop: i = 1 -> the last part (test), i = 2 -> valid
        col = len(ratios) - i
        active &= cnt[:, 0] > 1  # ``if cnt[0] <= 1: break``
        x = ratios[col] * n
        take = active & (x > 0) & (x < 1)
        cnt[take, col] += 1
        cnt[take, 0] -= 1
    return cnt


def recbole_split(user: np.ndarray, seed: int = RECBOLE_SEED,
                  ratios: tuple[float, float, float] = RECBOLE_RATIOS) -> np.ndarray:
    """Split names [E] ("train" / "valid" / "test") of interactions by user ``user`` [E] (in file order), as
    RecBole's ``RS`` split with ``group_by: user`` and ``order: RO``: the interactions are shuffled once (a seeded
    permutation; RecBole's own ``torch.randperm`` stream is not reproduced), each user's rows keep their shuffled
    order, and the user's first rows go to train, the next to valid, the last to test
    (:func:`recbole_split_counts`)."""
    user = np.asarray(user)
    perm = np.random.default_rng(seed).permutation(len(user))
    order = perm[np.argsort(user[perm], kind="stable")]  # grouped by user, shuffled within the user
    su = user[order]
    starts = np.flatnonzero(np.r_[True, su[1:] != su[:-1]])
    sizes = np.diff(np.r_[starts, len(su)])
    cnt = recbole_split_counts(sizes, ratios)
    pos = np.arange(len(su)) - np.repeat(starts, sizes)  # rank within the user's shuffled rows
    code = (pos >= np.repeat(cnt[:, 0], sizes)).astype(np.int8) + (pos >= np.repeat(cnt[:, :2].sum(1), sizes))
    out = np.empty(len(user), np.int8)
    out[order] = code
    return np.array(["train", "valid", "test"], dtype=object)[out]


def _recbole_protocol(events: pl.DataFrame, layout: _Layout, rejected: RejectedRows, report: ImportReport,
                      seed: int) -> pl.DataFrame:
    """RecBole-GNN's general-recommendation protocol on the imported events: ratings < 3 filtered out (to
    ``rejected.parquet``, reason named), every kept rating a click, one scenario ``all``, and the per-user
    8:1:1 split of :func:`recbole_split` in the events' ``split`` column."""
    src = layout.ratings.name
    low = events.filter(pl.col("rating") < RECBOLE_MIN_RATING)
    first_line = 1 if layout.variant == "grouplens" else 2
    rejected.add(low.select((pl.col("event_id") + first_line).alias("line_no"),
                            pl.format("{}\t{}\t{}", "user_id", "item_id", "rating").alias("raw")).to_arrow(),
                 f"filtered by the RecBole protocol: rating < {RECBOLE_MIN_RATING:g}", src)
    kept = events.filter(pl.col("rating") >= RECBOLE_MIN_RATING).sort("event_id")
    report.written[src] = kept.height
    split = recbole_split(kept["user_id"].to_numpy(), seed)
    return kept.with_columns(pl.lit(0, pl.Int16).alias("scenario_id"), pl.lit(1, pl.Int8).alias("click"),
                             pl.Series("split", split, pl.String))


def _recbole_items(items: pl.DataFrame, events: pl.DataFrame, layout: _Layout, rejected: RejectedRows,
                   report: ImportReport) -> pl.DataFrame:
    """RecBole's item set: the items of the kept interactions (3,628 of MovieLens-1M's 3,883 for ratings >= 3;
    RecBole counts 3,629 with its padding id); the others go to ``rejected.parquet`` with the reason."""
    src = layout.items.name
    rated = items["item_id"].is_in(events["item_id"].unique().implode())
    rejected.add(items.filter(~rated).select(pl.col("item_id").cast(pl.String).alias("line_no"),
                                             pl.col("key").alias("raw")).to_arrow(),
                 f"filtered by the RecBole protocol: no rating >= {RECBOLE_MIN_RATING:g}", src)
    report.written[src] = int(rated.sum())
    return items.filter(rated)


# ---------------------------------------------------------------------------------------------- the API
def import_movielens(src: str | Path, out: str | Path, *, protocol: Literal["swr", "recbole"] = "swr",
                     split_seed: int = RECBOLE_SEED) -> ImportReport:
    """Convert MovieLens-1M (GroupLens ``.dat`` or RecBole atomic files in ``src``) to a canonical dataset in
    ``out``; returns the counts (``report.balanced`` holds: read = written + rejected, per source file).

    ``protocol``: ``swr`` (default) = Scenario-Wise Rec's (3 age scenarios, click = rating > 3, random 8:1:1
    split of the events); ``recbole`` = RecBole-GNN's general-recommendation table (ratings >= 3 kept as clicks,
    the rest filtered to ``rejected.parquet``; one scenario ``all``; RecBole's per-user 8:1:1 ``RS`` split
    seeded by ``split_seed``, stored in the events' ``split`` column)."""
    if protocol not in ("swr", "recbole"):
        raise ValueError(f"protocol {protocol!r}: expected 'swr' or 'recbole'")
    src, out = Path(src), Path(out)
    layout = detect_layout(src)
    report = ImportReport(format="movielens", src=src, out=out, variant=layout.variant)
    rejected = RejectedRows()

    users = _users(layout, rejected, report)
    items = _items(layout, rejected, report)
    events = _events(layout, users, items, rejected, report)
    if protocol == "recbole":
        events = _recbole_protocol(events, layout, rejected, report, split_seed)
        items = _recbole_items(items, events, layout, rejected, report)

    out.mkdir(parents=True, exist_ok=True)
    schema = EVENTS_SCHEMA.append(pa.field("split", pa.string())) if protocol == "recbole" else EVENTS_SCHEMA
    pq.write_table(events.to_arrow().cast(schema), out / "events.parquet", row_group_size=ROW_GROUP)
    pq.write_table(users.drop("scenario_id").sort("user_id").to_arrow().cast(USERS_SCHEMA), out / "users.parquet")
    pq.write_table(items.drop("key").sort("item_id").to_arrow().cast(ITEMS_SCHEMA), out / "items.parquet")
    stale = out / "rejected.parquet"
    if stale.exists():
        stale.unlink()
    rejected.write(out)
    DatasetSpec(
        name=NAME,
        scenarios=SCENARIOS if protocol == "swr" else RECBOLE_SCENARIOS,
        labels=["click"],
        split=RandomSplit(ratios=(0.8, 0.1, 0.1), seed=2022) if protocol == "swr" else ColumnSplit(),
        features=FEATURES,
        source={"format": "movielens", "layout": layout.variant,
                "protocol": "Scenario-Wise Rec (arXiv 2412.17374): scenarios by user age, click = rating > 3"}
        if protocol == "swr" else
        {"format": "movielens", "layout": layout.variant,
         "protocol": f"RecBole-GNN general (results/general/ml-1m.md): ratings >= 3 kept, one scenario, per-user "
                     f"RS 8:1:1 split (seed {split_seed})"},
    ).save(out)

    for part in rejected.parts:  # per source file
        s = part["source"][0].as_py()
        report.rejected[s] = report.rejected.get(s, 0) + part.num_rows
    report.reasons = dict(rejected.counts)
    report.extra = {
        "scenario_events": dict(
            events.group_by("scenario_id").len().sort("scenario_id").iter_rows()
        ),
        "click_rate": float(events["click"].cast(pl.Float64).mean()) if events.height else 0.0,
        "rated_items": int(events["item_id"].n_unique()),
    }
    return report
