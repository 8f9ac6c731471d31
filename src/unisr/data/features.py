"""Feature encoders: vocabularies with an out-of-vocabulary bucket (optionally hashed), dense transforms,
padded + masked sequences, and the ``FeatureSchema`` that models are built from.

Encoders are fitted once (on the entity tables and the training split) and saved in the run folder
(``encoders.npz`` + ``encoders.json``, no pickle) so that serving can encode raw ids.

Users and items are encoded once per entity: ``user_cat[u]`` holds every categorical user field of entity
index ``u`` (0 = unknown user -> all fields OOV). Encoding a chunk of events is then a vectorised gather.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from unisr.data.reader import has_table, read_table, table_columns
from unisr.data.schema import DatasetSpec, FeatureDecl
from unisr.data.split import splitmix64

OOV = 0


# --------------------------------------------------------------------------------------------- vocabulary
@dataclass
class Vocabulary:
    """Raw values -> indices 1..n (0 = out of vocabulary). ``hash_buckets`` maps values to 1..buckets instead."""

    values: np.ndarray | None  # sorted unique raw values (int64 or unicode); None when hashed
    hash_buckets: int | None = None

    @classmethod
    def fit(cls, values: np.ndarray, hash_buckets: int | None = None) -> Vocabulary:
        if hash_buckets:
            return cls(None, hash_buckets)
        values = values[~_isnull(values)]
        return cls(np.unique(values))

    @property
    def size(self) -> int:
        """Number of indices including the OOV bucket."""
        return (self.hash_buckets if self.hash_buckets else len(self.values)) + 1

    def lookup(self, raw: np.ndarray) -> np.ndarray:
        if self.hash_buckets:
            keys = raw.astype(np.int64) if raw.dtype.kind in "iu" else _string_keys(raw)
            return (splitmix64(keys, 7) % np.uint64(self.hash_buckets)).astype(np.int64) + 1
        vals = self.values
        if len(vals) == 0:
            return np.zeros(len(raw), dtype=np.int64)
        if vals.dtype.kind != raw.dtype.kind:
            raw = raw.astype(vals.dtype) if vals.dtype.kind in "U" else raw
        pos = np.searchsorted(vals, raw)
        pos_c = np.minimum(pos, len(vals) - 1)
        hit = vals[pos_c] == raw
        return np.where(hit, pos_c + 1, OOV).astype(np.int64)


def _isnull(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind == "f":
        return np.isnan(values)
    if values.dtype.kind == "O":
        return np.array([v is None for v in values], dtype=bool)
    return np.zeros(len(values), dtype=bool)


def _string_keys(raw: np.ndarray) -> np.ndarray:
    """A stable 64-bit FNV-1a key per string, vectorised over rows (loops only over character positions)."""
    b = np.char.encode(raw.astype(str), "utf-8")
    width = max(b.dtype.itemsize, 1)
    mat = np.frombuffer(b.astype(f"S{width}").tobytes(), dtype=np.uint8).reshape(len(b), width)
    h = np.full(len(b), 1469598103934665603, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(width):
            c = mat[:, j].astype(np.uint64)
            h = np.where(c > 0, (h ^ c) * np.uint64(1099511628211), h)
    return h.view(np.int64)


def to_numpy(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A scalar Arrow column as numpy: ints/floats natively, strings as unicode, nulls as sentinel."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    t = col.type
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_dictionary(t):
        return np.asarray(col.cast(pa.string()).fill_null("").to_numpy(zero_copy_only=False)).astype(str)
    if pa.types.is_boolean(t):
        return np.asarray(col.fill_null(False).to_numpy(zero_copy_only=False)).astype(np.int64)
    if pa.types.is_integer(t):
        return np.array(col.cast(pa.int64()).fill_null(-(2**62)).to_numpy(zero_copy_only=False))
    return np.asarray(col.cast(pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False))


# ------------------------------------------------------------------------------------------------- dense
@dataclass
class DenseTransform:
    """``minmax``: (x - lo) / (hi - lo); ``log``: log1p(max(x, 0)) then minmax; missing -> 0."""

    kind: str
    lo: float
    hi: float

    @classmethod
    def fit(cls, x: np.ndarray, kind: str) -> DenseTransform:
        x = x.astype(np.float64)
        if kind == "log":
            x = np.log1p(np.maximum(x, 0))
        finite = x[np.isfinite(x)]
        lo, hi = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
        return cls(kind, lo, hi)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = x.astype(np.float64)
        if self.kind == "log":
            x = np.log1p(np.maximum(x, 0))
        if self.kind in ("minmax", "log"):
            x = (x - self.lo) / max(self.hi - self.lo, 1e-12)
        return np.nan_to_num(x, nan=0.0).astype(np.float32)


# ------------------------------------------------------------------------------------------- sequences
def pad_lists(col: pa.ChunkedArray | pa.Array, max_len: int, offset: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """A list<int> column -> (ids [N, max_len] int64, mask [N, max_len] bool), first ``max_len`` elements.

    Values are shifted by ``offset`` so that 0 stays the padding id. Nulls are empty lists.
    """
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    col = col.fill_null(pa.scalar([], col.type)) if col.null_count else col
    offsets = np.asarray(col.offsets.to_numpy(), dtype=np.int64)
    flat = np.asarray(col.flatten().to_numpy(zero_copy_only=False), dtype=np.int64)
    n = len(col)
    lens = np.minimum(np.diff(offsets), max_len)
    mask = np.arange(max_len)[None, :] < lens[:, None]
    src = offsets[:-1, None] + np.arange(max_len)[None, :]
    ids = np.zeros((n, max_len), dtype=np.int64)
    ids[mask] = flat[src[mask]] + offset
    return ids, mask


# ---------------------------------------------------------------------------------------------- schema
@dataclass
class SparseField:
    name: str
    table: str
    vocab_size: int
    embed_dim: int


@dataclass
class SequenceField:
    name: str
    table: str
    vocab_size: int
    max_len: int
    embed_dim: int


@dataclass
class FeatureSchema:
    """What a model needs to be built: field sizes, scenarios, entity counts. No data."""

    sparse: list[SparseField]
    dense: list[str]
    sequences: list[SequenceField]
    scenarios: list[str]  # scenario names in index order
    scenario_kinds: list[str]
    num_users: int  # entity indices 0..num_users (0 = unknown)
    num_items: int
    tree_paths: list[list[str]] | None = None
    extra: dict = field(default_factory=dict)

    @property
    def num_scenarios(self) -> int:
        return len(self.scenarios)

    def sequence(self, name: str) -> SequenceField | None:
        return next((f for f in self.sequences if f.name == name), None)

    def field_index(self, name: str) -> int:
        return [f.name for f in self.sparse].index(name)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> FeatureSchema:
        d = dict(d)
        d["sparse"] = [SparseField(**f) for f in d["sparse"]]
        d["sequences"] = [SequenceField(**f) for f in d["sequences"]]
        return cls(**d)


# -------------------------------------------------------------------------------------------- encoder
def default_feature_decls(root: str | Path, embed_dim: int) -> list[FeatureDecl]:
    """Without declarations: ids + every scalar column of users/items (ints/strings categorical, floats dense)."""
    decls = [
        FeatureDecl(table="users", column="user_id", type="categorical", embed_dim=embed_dim),
        FeatureDecl(table="items", column="item_id", type="categorical", embed_dim=embed_dim),
    ]
    for table in ("users", "items"):
        schema = read_table(root, table).schema
        for f in schema:
            if f.name in ("user_id", "item_id") or f.name.startswith("emb_"):
                continue
            if pa.types.is_floating(f.type):
                decls.append(FeatureDecl(table=table, column=f.name, type="dense", transform="minmax"))
            elif pa.types.is_integer(f.type) or pa.types.is_string(f.type):
                decls.append(FeatureDecl(table=table, column=f.name, type="categorical", embed_dim=embed_dim))
    return decls


@dataclass
class FeatureEncoder:
    """Fitted encoders for one dataset. ``encode_events`` turns an Arrow chunk of events into arrays."""

    decls: list[FeatureDecl]
    scenario_ids: np.ndarray  # raw scenario id per scenario index
    user_ids: np.ndarray  # sorted raw user ids (entity index = position + 1)
    item_ids: np.ndarray
    user_cat: np.ndarray  # [n_users + 1, n_user_cat] int64
    item_cat: np.ndarray
    user_dense: np.ndarray  # [n_users + 1, n_user_dense] float32
    item_dense: np.ndarray
    vocabs: dict[str, Vocabulary]
    dense_tf: dict[str, DenseTransform]
    schema: FeatureSchema
    item_seq: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    # ------------------------------------------------------------------ fit
    @classmethod
    def fit(cls, root: str | Path, spec: DatasetSpec, embed_dim: int = 16,
            decls: list[FeatureDecl] | None = None, embed_dims: dict[str, int] | None = None) -> FeatureEncoder:
        """``embed_dims`` overrides the embedding size per field name (``user_id``, ``user.gender``,
        ``query_tokens`` ...) over the declarations and ``embed_dim``."""
        decls = list(decls or spec.features or default_feature_decls(root, embed_dim))
        # the ids are always features: declarations list the extra columns, the ids come first unless declared
        declared = {(d.table, d.column) for d in decls}
        decls = [FeatureDecl(table=t, column=c, type="categorical")
                 for t, c in (("users", "user_id"), ("items", "item_id")) if (t, c) not in declared] + decls
        over = dict(embed_dims or {})

        def dim_of(name: str, d: FeatureDecl) -> int:
            return over.get(name) or d.embed_dim or embed_dim
        tables = {t: read_table(root, t) for t in ("users", "items")}
        user_ids = np.unique(to_numpy(tables["users"]["user_id"]))
        item_ids = np.unique(to_numpy(tables["items"]["item_id"]))
        # entity tables sorted by id so that entity index = position + 1
        order = {
            "users": np.argsort(to_numpy(tables["users"]["user_id"]), kind="stable"),
            "items": np.argsort(to_numpy(tables["items"]["item_id"]), kind="stable"),
        }
        vocabs: dict[str, Vocabulary] = {}
        dense_tf: dict[str, DenseTransform] = {}
        cats: dict[str, list[np.ndarray]] = {"users": [], "items": []}
        denses: dict[str, list[np.ndarray]] = {"users": [], "items": []}
        sparse_fields: list[SparseField] = []
        dense_names: list[str] = []
        seq_fields: list[SequenceField] = []
        item_seq: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for d in decls:
            if d.table == "queries":
                # query token sequences are looked up per event by the loader (``QueryTable``); the
                # schema only records their vocabulary so models can embed them
                if d.type == "sequence" and has_table(root, "queries"):
                    q = read_table(root, "queries", [d.column])
                    if d.column in q.column_names:
                        flat = pc.list_flatten(q[d.column])
                        vmax = int(pc.max(flat).as_py() or 0) if len(flat) else 0
                        seq_fields.append(SequenceField("query_tokens", "queries", vmax + 2, d.max_len or 8,
                                                        dim_of("query_tokens", d)))
                continue
            if d.table not in ("users", "items"):
                raise ValueError(f"feature {d.column}: table {d.table!r} not supported yet (users, items)")
            tab = tables[d.table]
            if d.column not in tab.column_names:
                raise ValueError(f"feature declaration: {d.table}.parquet has no column {d.column!r}")
            name = f"{d.table[:-1]}.{d.column}" if d.column not in ("user_id", "item_id") else d.column
            if d.type == "categorical":
                raw = to_numpy(tab[d.column])[order[d.table]]
                voc = Vocabulary.fit(raw, d.hash_buckets)
                vocabs[name] = voc
                cats[d.table].append(voc.lookup(raw))
                sparse_fields.append(SparseField(name, d.table, voc.size, dim_of(name, d)))
            elif d.type == "dense":
                raw = to_numpy(tab[d.column])[order[d.table]]
                tf = DenseTransform.fit(raw, d.transform if d.transform != "none" else "minmax")
                dense_tf[name] = tf
                denses[d.table].append(tf(raw))
                dense_names.append(name)
            else:  # sequence on items (title tokens ...)
                if d.table != "items":
                    raise ValueError(f"sequence feature {d.column}: only item list columns are supported")
                col = tab[d.column].take(pa.array(order[d.table]))
                max_len = d.max_len or 16
                ids, mask = pad_lists(col, max_len)
                pad = (np.zeros((1, max_len), np.int64), np.zeros((1, max_len), bool))
                item_seq[name] = (np.vstack([pad[0], ids]), np.vstack([pad[1], mask]))
                seq_fields.append(SequenceField(name, d.table, int(ids.max(initial=0)) + 1, max_len,
                                                dim_of(name, d)))

        # event-level references to entities share the entities' id spaces: the candidate user of a share
        # impression and the trigger item of a similar-product search
        ev_cols = set(table_columns(root, "events"))
        id_dim = next((f.embed_dim for f in sparse_fields if f.name in ("user_id", "item_id")), embed_dim)
        if "target_user_id" in ev_cols:
            sparse_fields.append(SparseField("target_user_id", "events", len(user_ids) + 1, id_dim))
        if "trigger_item_id" in ev_cols:
            sparse_fields.append(SparseField("trigger_item_id", "events", len(item_ids) + 1, id_dim))

        def stack(parts: list[np.ndarray], n: int, dtype) -> np.ndarray:
            if not parts:
                return np.zeros((n + 1, 0), dtype=dtype)
            body = np.stack(parts, axis=1).astype(dtype)
            return np.vstack([np.zeros((1, body.shape[1]), dtype=dtype), body])

        scen = sorted(spec.scenarios, key=lambda s: s.id)
        schema = FeatureSchema(
            sparse=sparse_fields,
            dense=dense_names,
            sequences=seq_fields,
            scenarios=[s.name for s in scen],
            scenario_kinds=[str(s.kind) for s in scen],
            num_users=len(user_ids),
            num_items=len(item_ids),
            tree_paths=[s.tree_path or [] for s in scen] if any(s.tree_path for s in scen) else None,
        )
        return cls(
            decls=decls,
            scenario_ids=np.array([s.id for s in scen], dtype=np.int64),
            user_ids=user_ids,
            item_ids=item_ids,
            user_cat=stack(cats["users"], len(user_ids), np.int64),
            item_cat=stack(cats["items"], len(item_ids), np.int64),
            user_dense=stack(denses["users"], len(user_ids), np.float32),
            item_dense=stack(denses["items"], len(item_ids), np.float32),
            vocabs=vocabs,
            dense_tf=dense_tf,
            schema=schema,
            item_seq=item_seq,
        )

    # --------------------------------------------------------------- encode
    def user_index(self, raw: np.ndarray) -> np.ndarray:
        return Vocabulary(self.user_ids).lookup(raw)

    def item_index(self, raw: np.ndarray) -> np.ndarray:
        return Vocabulary(self.item_ids).lookup(raw)

    def scenario_index(self, raw: np.ndarray) -> np.ndarray:
        """Raw scenario ids -> 0..S-1; unknown ids -> -1 (the validator rejects them earlier)."""
        idx = Vocabulary(self.scenario_ids).lookup(raw) - 1
        return idx

    def encode_entities(self, user_idx: np.ndarray, item_idx: np.ndarray,
                        event_cols: dict[str, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Sparse [N, F] and dense [N, D] for (user, item) entity indices, in schema field order.

        Event-level id fields (``target_user_id``, ``trigger_item_id``) take their indices from
        ``event_cols`` (entity indices; 0 where the event has none)."""
        n = len(user_idx)
        ev = event_cols or {}
        zeros = np.zeros(n, np.int64)

        def interleave(tables: list[str], user_m: np.ndarray, item_m: np.ndarray, extra) -> list[np.ndarray]:
            """Columns in declared order: the k-th users field is column k of the user matrix, etc."""
            seen = {"users": 0, "items": 0}
            out = []
            for table, name in tables:
                if table in seen:
                    m = user_m if table == "users" else item_m
                    out.append(m[:, seen[table]])
                    seen[table] += 1
                else:
                    out.append(extra(name))
            return out

        cols = interleave([(f.table, f.name) for f in self.schema.sparse], self.user_cat[user_idx],
                          self.item_cat[item_idx], lambda name: ev.get(name, zeros))
        dcols = interleave([("users" if d.startswith("user.") else "items", d) for d in self.schema.dense],
                           self.user_dense[user_idx], self.item_dense[item_idx], None)
        sparse = np.stack(cols, axis=1) if cols else np.zeros((n, 0), np.int64)
        dense = np.stack(dcols, axis=1) if dcols else np.zeros((n, 0), np.float32)
        return sparse, dense.astype(np.float32)

    # ----------------------------------------------------------------- save
    def save(self, out: str | Path) -> None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        arrays = {
            "scenario_ids": self.scenario_ids, "user_ids": self.user_ids, "item_ids": self.item_ids,
            "user_cat": self.user_cat, "item_cat": self.item_cat,
            "user_dense": self.user_dense, "item_dense": self.item_dense,
        }
        for k, v in self.vocabs.items():
            if v.values is not None:
                arrays[f"vocab/{k}"] = v.values
        for k, (ids, mask) in self.item_seq.items():
            arrays[f"seq/{k}/ids"], arrays[f"seq/{k}/mask"] = ids, mask
        np.savez(out / "encoders.npz", **arrays)
        meta = {
            "decls": [d.model_dump() for d in self.decls],
            "hash_buckets": {k: v.hash_buckets for k, v in self.vocabs.items()},
            "dense": {k: asdict(v) for k, v in self.dense_tf.items()},
            "schema": self.schema.to_dict(),
        }
        (out / "encoders.json").write_text(json.dumps(meta, indent=1))

    @classmethod
    def load(cls, path: str | Path) -> FeatureEncoder:
        path = Path(path)
        meta = json.loads((path / "encoders.json").read_text())
        z = np.load(path / "encoders.npz", allow_pickle=False)
        vocabs = {}
        for k, hb in meta["hash_buckets"].items():
            vocabs[k] = Vocabulary(None, hb) if hb else Vocabulary(z[f"vocab/{k}"])
        item_seq = {}
        for k in {n.split("/")[1] for n in z.files if n.startswith("seq/")}:
            item_seq[k] = (z[f"seq/{k}/ids"], z[f"seq/{k}/mask"])
        return cls(
            decls=[FeatureDecl(**d) for d in meta["decls"]],
            scenario_ids=z["scenario_ids"], user_ids=z["user_ids"], item_ids=z["item_ids"],
            user_cat=z["user_cat"], item_cat=z["item_cat"],
            user_dense=z["user_dense"], item_dense=z["item_dense"],
            vocabs=vocabs,
            dense_tf={k: DenseTransform(**v) for k, v in meta["dense"].items()},
            schema=FeatureSchema.from_dict(meta["schema"]),
            item_seq=item_seq,
        )


def has_queries(root: str | Path) -> bool:
    return has_table(root, "queries")
