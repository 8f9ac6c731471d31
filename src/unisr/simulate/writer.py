"""Writing the canonical tables (exact names and Arrow types of ``unisr.data.schema``).

Shapes:
    event columns [N] -> Arrow tables
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from unisr.data.schema import EVENTS, ITEMS, QUERIES, SOCIAL, TRUTH, USERS
from unisr.simulate.config import DAY
from unisr.simulate.engine import ChunkResult
from unisr.simulate.queries import TRIGGER_QUERY_BASE
from unisr.simulate.world import World

COMPRESSION = "zstd"


def list_array(values: np.ndarray, value_type: pa.DataType) -> pa.ListArray:
    """A list<T> column from a 2-d array (every row the same length)."""
    n, k = values.shape
    offsets = pa.array(np.arange(0, (n + 1) * k, k, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, pa.array(values.reshape(-1), type=value_type))


def _nullable(x: np.ndarray, typ: pa.DataType) -> pa.Array:
    return pa.array(x, type=typ, mask=x < 0)


def _dictionary_columns(schema: pa.Schema) -> list[str]:
    """Columns worth Parquet's dictionary encoding: the low-cardinality ones (ints of <= 16 bits, bools,
    strings). On ids, timestamps and probabilities it costs write time and bytes (it is dropped per column
    chunk once the dictionary overflows): small v2 seed 0's events + truth tables write in 2.0 s -> 1.3 s
    (best of 3, load 4.5, 2026-12-08) and take 37.9 -> 32.5 MB, the same values (the fingerprint reads values, not bytes)."""
    small = (pa.types.is_int8, pa.types.is_int16, pa.types.is_uint8, pa.types.is_uint16, pa.types.is_boolean,
             pa.types.is_string, pa.types.is_large_string)
    return [f.name for f in schema if any(t(f.type) for t in small)]


def write_table(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression=COMPRESSION, row_group_size=1 << 20,
                   use_dictionary=_dictionary_columns(table.schema))


def events_tables(world: World, res: ChunkResult) -> tuple[pa.Table, pa.Table]:
    ev, cat, users = res.events, world.cat, world.users
    ext_item = lambda a: np.where(a >= 0, cat.ext_id[np.maximum(a, 0)], -1)  # noqa: E731
    ext_user = lambda a: np.where(a >= 0, users.ext_id[np.maximum(a, 0)], -1)  # noqa: E731
    cols = {
        "event_id": pa.array(ev["event"], pa.int64()),
        "ts": pa.array(ev["ts"], pa.int64()),
        "user_id": pa.array(users.ext_id[ev["user"]], pa.int64()),
        "scenario_id": pa.array(ev["scenario"].astype(np.int16), pa.int16()),
        "item_id": pa.array(cat.ext_id[ev["item"]], pa.int64()),
        "click": pa.array(ev["click"].astype(np.int8), pa.int8()),
        "query_id": _nullable(ev["query"], pa.int64()),
        "trigger_item_id": _nullable(ext_item(ev["trigger"]), pa.int64()),
        "target_user_id": _nullable(ext_user(ev["target"]), pa.int64()),
        "request_id": pa.array(ev["request"], pa.int64()),
        "session_id": pa.array(ev["session"], pa.int64()),
        "position": pa.array(ev["position"].astype(np.int16), pa.int16()),
        "conversion": pa.array(ev["conversion"].astype(np.int8), pa.int8()),
    }
    schema = EVENTS.arrow_schema([c for c in cols if c in EVENTS.optional])
    events = pa.Table.from_pydict(cols, schema=schema)
    truth = pa.Table.from_pydict(
        {
            "event_id": cols["event_id"],
            "p_click": pa.array(ev["p_click"].astype(np.float32), pa.float32()),
            "p_conversion": pa.array(ev["p_conv"].astype(np.float32), pa.float32()),
        },
        schema=TRUTH.arrow_schema(["p_conversion"]),
    )
    # P(click) with the position term removed (CONTRACT.md: the ceiling of a position-free score); typed here
    # until unisr.data.schema.TRUTH lists it among its optional columns
    truth = truth.append_column(pa.field("p_click_no_position", pa.float32()),
                                pa.array(ev["p_click0"].astype(np.float32), pa.float32()))
    return events, truth


def items_table(world: World) -> pa.Table:
    cat = world.cat
    order = np.argsort(cat.ext_id)  # write in public id order
    t = pa.Table.from_pydict(
        {
            "item_id": pa.array(cat.ext_id[order], pa.int64()),
            "category_path": list_array(cat.category_path()[order], pa.int32()),
            "brand": pa.array(cat.brand[order].astype(np.int32), pa.int32()),
            "shop": pa.array(cat.shop[order].astype(np.int32), pa.int32()),
            "price_level": pa.array(cat.price[order], pa.int8()),
            "title_tokens": list_array(cat.title[order], pa.int32()),
            "image_emb": list_array(cat.image[order], pa.float32()),
        },
        schema=ITEMS.arrow_schema(list(ITEMS.optional)),
    )
    for name, emb in cat.exposed.items():
        t = t.append_column(pa.field(f"emb_{name}", pa.list_(pa.float32())), list_array(emb[order], pa.float32()))
    return t.append_column(pa.field("created_ts", pa.int64()), pa.array(cat.created[order], pa.int64()))


def users_table(world: World) -> pa.Table:
    u = world.users
    order = np.argsort(u.ext_id)
    return pa.Table.from_pydict(
        {
            "user_id": pa.array(u.ext_id[order], pa.int64()),
            "gender": pa.array(u.gender[order], pa.int8()),
            "age_level": pa.array(u.age[order], pa.int8()),
            "purchasing_power": pa.array(u.power[order], pa.int8()),
            "registered_ts": pa.array(u.joined[order], pa.int64()),
        },
        schema=USERS.arrow_schema().append(pa.field("gender", pa.int8()))
        .append(pa.field("age_level", pa.int8()))
        .append(pa.field("purchasing_power", pa.int8()))
        .append(pa.field("registered_ts", pa.int64())),
    )


def _queries_schema() -> pa.Schema:
    return QUERIES.arrow_schema(["tokens", "emb", "category"]).append(pa.field("item_id", pa.int64()))


def text_queries_table(world: World) -> pa.Table:
    pool, cat = world.pool, world.cat
    toks = pool.tokens(cat)
    n = len(toks)
    leaf = np.arange(n) // pool.q
    return pa.Table.from_pydict(
        {
            "query_id": pa.array(np.arange(n, dtype=np.int64)),
            "kind": pa.array(["text"] * n, pa.string()),
            "tokens": pa.array(toks, pa.list_(pa.int32())),
            "emb": pa.nulls(n, pa.list_(pa.float32())),
            "category": pa.array(cat.leaf_category_id(leaf), pa.int32()),
            "item_id": pa.nulls(n, pa.int64()),
        },
        schema=_queries_schema(),
    )


def visual_queries_table(world: World, ids: np.ndarray, emb: np.ndarray, leaf: np.ndarray) -> pa.Table:
    n = len(ids)
    return pa.Table.from_pydict(
        {
            "query_id": pa.array(ids, pa.int64()),
            "kind": pa.array(["visual"] * n, pa.string()),
            "tokens": pa.nulls(n, pa.list_(pa.int32())),
            "emb": list_array(emb.astype(np.float32).reshape(n, -1), pa.float32()),
            "category": pa.array(world.cat.leaf_category_id(leaf), pa.int32()),
            "item_id": pa.nulls(n, pa.int64()),
        },
        schema=_queries_schema(),
    )


def trigger_queries_table(world: World, items: np.ndarray) -> pa.Table:
    cat = world.cat
    items = np.unique(items)
    ext = cat.ext_id[items]
    n = len(items)
    return pa.Table.from_pydict(
        {
            "query_id": pa.array(TRIGGER_QUERY_BASE + ext, pa.int64()),
            "kind": pa.array(["trigger"] * n, pa.string()),
            "tokens": pa.nulls(n, pa.list_(pa.int32())),
            "emb": pa.nulls(n, pa.list_(pa.float32())),
            "category": pa.array(cat.leaf_category_id(cat.leaf[items]), pa.int32()),
            "item_id": pa.array(ext, pa.int64()),
        },
        schema=_queries_schema(),
    )


def social_table(world: World, share_src: np.ndarray, share_dst: np.ndarray, share_ts: np.ndarray) -> pa.Table:
    """friend + pay edges, and the share view from share choices before ``share_view_until_day``."""
    con, ext = world.contacts, world.users.ext_id
    n = world.users.n
    cut = world.t0 + int(world.cfg.social.share_view_until_day * DAY)
    keep = share_ts < cut
    key = share_src[keep] * n + share_dst[keep]
    order = np.lexsort((share_ts[keep], key))
    key, sts = key[order], share_ts[keep][order]
    uk, first, cnt = np.unique(key, return_index=True, return_counts=True)
    fs, fd, fts = con.friend_edges
    ps, pd_, pts, pw = con.pay_edges
    views = [("friend", fs, fd, np.ones(len(fs), np.float32), fts),
             ("pay", ps, pd_, pw, pts),
             ("share", uk // n, uk % n, cnt.astype(np.float32), sts[first] if len(first) else np.zeros(0, np.int64))]
    if con.interact is not None:  # v2: interaction count per directed contact before the share window's end
        has = con.interact > 0
        src = np.repeat(np.arange(n), np.diff(con.start))
        views.append(("interact", src[has], con.dst[has], con.interact[has].astype(np.float32),
                      np.full(int(has.sum()), cut, np.int64)))
    parts = []
    for name, s, d, w, t in views:
        parts.append(
            pa.Table.from_pydict(
                {
                    "src_user_id": pa.array(ext[s], pa.int64()),
                    "dst_user_id": pa.array(ext[d], pa.int64()),
                    "view": pa.repeat(pa.scalar(name, pa.string()), len(s)),  # no Python list (tens of millions)
                    "weight": pa.array(np.asarray(w, np.float32), pa.float32()),
                    "ts": pa.array(np.asarray(t, np.int64), pa.int64()),
                },
                schema=SOCIAL.arrow_schema(["weight", "ts"]),
            )
        )
    return pa.concat_tables(parts)


def latent_tables(world: World) -> dict[str, pa.Table]:
    """Hidden truth for analysis only (never a model input): communities, popularity, scenario weights."""
    u, c, reg = world.users, world.cat, world.reg
    return {
        "users_latent": pa.table(
            {"user_id": u.ext_id, "community": u.community, "activity": u.activity, "price_pref": u.price_pref}
        ),
        "items_latent": pa.table(
            {"item_id": c.ext_id, "popularity": c.pop, "style_id": c.style_id, "texture_id": c.texture_id}
        ),
        "share_leaves": pa.table(
            {"scenario_id": reg.share_ids, "traffic": reg.share_traffic, "base": reg.share_base}
            | {f"w_{f}": reg.share_w[:, j] for j, f in enumerate(("friend", "pay", "tie", "interest", "community"))}
            | ({} if reg.share_wo is None else
               {f"wo_{f}": reg.share_wo[:, j] for j, f in enumerate(("friend", "pay_out", "pay_in", "interact"))})
        ),
    }
