"""Feature encoders: vocabularies with an out-of-vocabulary bucket (optionally hashed), dense transforms,
padded + masked sequences, and the ``FeatureSchema`` that models are built from.

Encoders are fitted once (on the entity tables and the training split) and saved in the run folder
(``encoders.npz`` + ``encoders.json``, no pickle) so that serving can encode raw ids.

Users and items are encoded once per entity: ``user_cat[u]`` holds every categorical user field of entity
index ``u`` (0 = unknown user -> all fields OOV). Encoding a chunk of events is then a vectorised gather.

Cold ids (``FeatureEncoder.fit(id_vocab=...)``): ``"entities"`` (the default, the behaviour before issue 31)
gives every id of the users / items tables its own row, so an id absent from the training split keeps its
initial row. ``"train"`` gives the ``user_id`` / ``item_id`` fields a row only for ids with at least
``id_min_count`` events in the training split; every other id (first seen after the training window: new items,
new users; with ``id_min_count`` > 1 also the rare ones, whose training events then train row 0) shares the OOV
row 0; ``FeatureEmbedding(id_dropout=...)`` trains that row on ordinary ids too (DropoutNet). Either way a new
item's content fields (category path, brand, shop, price, title) are its own. The entity indices
(``user_index`` / ``item_index``, graphs, histories) are unchanged by this option. Measured on the recorded
small data (benchmarks/cold_start.py): ``"train"`` with ``id_min_count=1`` scores like ``"entities"``; with
``id_min_count=2`` row 0 learns "a rare item is not clicked" and scores every new item down (feed_new soft AUC
0.52 -> 0.45), hence the default.

Item age (``item_age=True``, items with a ``created_ts`` column): one event-level dense field
``event.item_age`` = log1p(days between the item's creation and the event), scaled to [0, 1] on the training
split; ``encode_entities`` then needs the events' ``ts``. Off by default for now: it changes every dense
model's inputs, and the suites' records (reused by key) were trained without it; issue 31 turns it on together
with the other input changes and the re-run tables (measured: DNN feed_new 0.429 -> 0.457, other scenarios
within +-0.002; docs/models/cold_start.md).

History counters (inputs version 3, ``data.inputs.counters``): event-level dense fields ``event.count.<key
set>.<views|clicks|lift>`` computed by ``unisr.data.counters.CounterIndex`` from the background + train events
of the days before each event; saved with the encoder (``counter/*`` arrays) so serving scores with the same
counts.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from unisr.data.counters import PREFIX as COUNTER_PREFIX
from unisr.data.counters import CounterIndex
from unisr.data.inputs import QUERY_VECTOR_SPACE, Inputs
from unisr.data.reader import has_table, read_table, table_columns
from unisr.data.schema import DatasetSpec, FeatureDecl
from unisr.data.vocab import (
    OOV,
    DenseTransform,
    Vocabulary,
    fixed_vectors,
    item_age_days,
    pad_lists,
    to_numpy,
    training_window,
)

__all__ = ["ITEM_AGE", "OOV", "DenseTransform", "FeatureEncoder", "FeatureSchema", "SequenceField",
           "SparseField", "VectorField", "Vocabulary", "pad_lists", "to_numpy"]

ITEM_AGE = "event.item_age"  # the event-level dense field: log1p(days since the item's creation), scaled
ID_VOCABS = ("train", "entities")  # FeatureEncoder.fit(id_vocab=...)


@dataclass
class SparseField:
    name: str
    table: str
    vocab_size: int
    embed_dim: int


@dataclass
class SequenceField:
    """A list-of-ids field. ``vocab``: the key of the embedding table it is pooled with (fields with the same key
    share one table: a shared vocabulary, ``unisr.data.inputs``, or a trigger item's copy of an item field);
    "" = a table of its own."""

    name: str
    table: str
    vocab_size: int
    max_len: int
    embed_dim: int
    vocab: str = ""

    @property
    def table_key(self) -> str:
        return self.vocab or self.name


@dataclass
class VectorField:
    """A fixed-size float vector per sample (``item.image_emb``, ``trigger.image_emb``, ``query.emb``).
    ``space``: vectors of one space are projected by one matrix in every model; ``embed_dim``: its output size."""

    name: str
    table: str
    dim: int
    embed_dim: int
    space: str


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
    vectors: list[VectorField] = field(default_factory=list)

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
        d["vectors"] = [VectorField(**f) for f in d.get("vectors", [])]
        return cls(**d)

    def item_node_terms(self) -> int:
        """Title terms per item node of the graph models (SRJGraph eqs. 1-3: an item's attributes include its
        title terms, embedded with the query-term table): the title's ``max_len`` when titles and queries share
        a vocabulary, else 0. ``SRJGraphHook`` appends that many title ids to each item node's fields."""
        title, query = self.sequence("item.title_tokens"), self.sequence("query_tokens")
        if title is None or query is None or not title.vocab or title.vocab != query.vocab:
            return 0
        return title.max_len


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


def _stack(parts: list[np.ndarray], n: int, dtype) -> np.ndarray:
    """Per-entity columns -> [n + 1, len(parts)] with row 0 (the unknown entity) zero."""
    if not parts:
        return np.zeros((n + 1, 0), dtype=dtype)
    body = np.stack(parts, axis=1).astype(dtype)
    return np.vstack([np.zeros((1, body.shape[1]), dtype=dtype), body])


class _FitState:
    """What ``FeatureEncoder.fit`` accumulates over the feature declarations, one ``add`` per declaration.

    Shapes:
        cats[table]: per categorical field an [n_entities] int64 column (entity tables sorted by id);
        denses[table]: per dense field an [n_entities] float32 column; item_seq[name]: ([n + 1, L], [n + 1, L])
    """

    def __init__(self, root: str | Path, tables: dict[str, pa.Table], embed_dim: int,
                 over: dict[str, int], id_vocabs: dict[str, Vocabulary] | None = None,
                 inputs: Inputs | None = None) -> None:
        self.root, self.tables, self.embed_dim, self.over = root, tables, embed_dim, over
        self.inputs = inputs or Inputs()
        self.id_vocabs = id_vocabs or {}  # user_id / item_id vocabularies fitted on the training events
        # entity tables sorted by id so that entity index = position + 1
        self.order = {t: np.argsort(to_numpy(tables[t][c]), kind="stable")
                      for t, c in (("users", "user_id"), ("items", "item_id"))}
        self.vocabs: dict[str, Vocabulary] = {}
        self.dense_tf: dict[str, DenseTransform] = {}
        self.cats: dict[str, list[np.ndarray]] = {"users": [], "items": []}
        self.denses: dict[str, list[np.ndarray]] = {"users": [], "items": []}
        self.sparse_fields: list[SparseField] = []
        self.dense_names: list[str] = []
        self.seq_fields: list[SequenceField] = []
        self.item_seq: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.item_vec: dict[str, np.ndarray] = {}
        self.vec_fields: list[VectorField] = []

    def dim_of(self, name: str, d: FeatureDecl) -> int:
        return self.over.get(name) or d.embed_dim or self.embed_dim

    def add(self, d: FeatureDecl) -> None:
        if d.table == "queries":
            self._add_query(d)
            return
        if d.table not in ("users", "items"):
            raise ValueError(f"feature {d.column}: table {d.table!r} not supported yet (users, items)")
        tab = self.tables[d.table]
        if d.column not in tab.column_names:
            raise ValueError(f"feature declaration: {d.table}.parquet has no column {d.column!r}")
        name = f"{d.table[:-1]}.{d.column}" if d.column not in ("user_id", "item_id") else d.column
        order = self.order[d.table]
        if d.type == "categorical":
            raw = to_numpy(tab[d.column])[order]
            voc = self.id_vocabs.get(name) if not d.hash_buckets else None
            voc = voc if voc is not None else Vocabulary.fit(raw, d.hash_buckets)
            self.vocabs[name] = voc
            self.cats[d.table].append(voc.lookup(raw))
            self.sparse_fields.append(SparseField(name, d.table, voc.size, self.dim_of(name, d)))
        elif d.type == "dense":
            raw = to_numpy(tab[d.column])[order]
            tf = DenseTransform.fit(raw, d.transform if d.transform != "none" else "minmax")
            self.dense_tf[name] = tf
            self.denses[d.table].append(tf(raw))
            self.dense_names.append(name)
        else:  # sequence on items (title tokens ...)
            if d.table != "items":
                raise ValueError(f"sequence feature {d.column}: only item list columns are supported")
            max_len = d.max_len or 16
            ids, mask = pad_lists(tab[d.column].take(pa.array(order)), max_len)
            pad = (np.zeros((1, max_len), np.int64), np.zeros((1, max_len), bool))
            self.item_seq[name] = (np.vstack([pad[0], ids]), np.vstack([pad[1], mask]))
            self.seq_fields.append(SequenceField(name, d.table, int(ids.max(initial=0)) + 1, max_len,
                                                 self.dim_of(name, d), self.inputs.vocab_of(d.table, d.column) or ""))

    def _add_query(self, d: FeatureDecl) -> None:
        # query token sequences are looked up per event by the loader (``QueryTable``); the schema only
        # records their vocabulary so models can embed them
        if d.type == "sequence" and has_table(self.root, "queries"):
            q = read_table(self.root, "queries", [d.column])
            if d.column in q.column_names:
                flat = pc.list_flatten(q[d.column])
                vmax = int(pc.max(flat).as_py() or 0) if len(flat) else 0
                self.seq_fields.append(SequenceField("query_tokens", "queries", vmax + 2, d.max_len or 8,
                                                     self.dim_of("query_tokens", d),
                                                     self.inputs.vocab_of("queries", d.column) or ""))

    def add_inputs(self, ev_cols: set[str]) -> None:
        """The version-2 inputs after the declared features (``unisr.data.inputs``): the query's category, the
        trigger item's content, the item vectors; then every shared vocabulary gets one size and one width."""
        inp = self.inputs
        has_q = has_table(self.root, "queries")
        qcols = set(table_columns(self.root, "queries")) if has_q else set()
        if inp.query_category and "category" in qcols:
            cat = read_table(self.root, "queries", ["category"])["category"]
            vmax = int(pc.max(cat).as_py() or 0) if len(cat) else 0
            vocab = inp.vocab_of("queries", "category") or ""
            self.seq_fields.append(SequenceField("query.category", "queries", vmax + 2, 1,
                                                 self.dim_of("query.category", FeatureDecl(
                                                     table="queries", column="category", type="sequence")), vocab))
        items = self.tables["items"]
        order = self.order["items"]
        for col in inp.item_vectors:
            if col not in items.column_names:
                continue
            mat = fixed_vectors(items[col].take(pa.array(order)), f"items.parquet column {col!r}")
            if mat is None:
                continue
            name = f"item.{col}"
            self.item_vec[name] = np.vstack([np.zeros((1, mat.shape[1]), np.float32), mat])
            self.vec_fields.append(VectorField(name, "items", mat.shape[1], self.over.get(name) or self.embed_dim, col))
        if inp.trigger_content and "trigger_item_id" in ev_cols:
            for f in [f for f in self.seq_fields if f.table == "items"]:
                self.seq_fields.append(SequenceField(f"trigger.{f.name[5:]}", "events", f.vocab_size, f.max_len,
                                                     f.embed_dim, f.table_key))
            for v in [v for v in self.vec_fields if v.table == "items"]:
                self.vec_fields.append(VectorField(f"trigger.{v.name[5:]}", "events", v.dim, v.embed_dim, v.space))
        image = next((v for v in self.vec_fields if v.name == f"item.{QUERY_VECTOR_SPACE}"), None)
        if image is not None and "emb" in qcols:
            qemb = read_table(self.root, "queries", ["emb"])["emb"]
            lens = pc.list_value_length(qemb).drop_null()
            if len(lens) and int(pc.max(lens).as_py()) == image.dim:
                self.vec_fields.append(VectorField("query.emb", "queries", image.dim, image.embed_dim, image.space))
        self._unify()

    def _unify(self) -> None:
        """Fields sharing a table get its size (the largest of theirs) and its width (its first field's)."""
        size: dict[str, int] = {}
        width: dict[str, int] = {}
        for f in self.seq_fields:
            size[f.table_key] = max(size.get(f.table_key, 0), f.vocab_size)
            width.setdefault(f.table_key, f.embed_dim)
        for f in self.seq_fields:
            f.vocab_size, f.embed_dim = size[f.table_key], width[f.table_key]


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
    item_created: np.ndarray | None = None  # [n_items + 1] float64 unix s (NaN row 0) when ITEM_AGE is a field
    age_tf: DenseTransform | None = None  # the ITEM_AGE transform (log1p days, scaled on the training split)
    options: dict = field(default_factory=dict)  # the fit options (id_vocab, id_min_count, item_age, splits)
    item_vec: dict[str, np.ndarray] = field(default_factory=dict)  # item vectors [n_items + 1, k] (row 0 zeros)
    counters: CounterIndex | None = None  # the history counters' dense fields (inputs version 3)

    # ------------------------------------------------------------------ fit
    @classmethod
    def fit(cls, root: str | Path, spec: DatasetSpec, embed_dim: int = 16,
            decls: list[FeatureDecl] | None = None, embed_dims: dict[str, int] | None = None, *,
            id_vocab: str = "entities", id_min_count: int = 1, item_age: bool = False,
            train_splits: tuple[str, ...] = ("train",), inputs: Inputs | None = None) -> FeatureEncoder:
        """``embed_dims`` overrides the embedding size per field name (``user_id``, ``user.gender``,
        ``query_tokens`` ...) over the declarations and ``embed_dim``.

        ``id_vocab="train"``: ``user_id`` / ``item_id`` rows only for ids with >= ``id_min_count`` events in
        ``train_splits``, the rest share the (trained) OOV row; ``"entities"``: a row per id of the entity
        tables. ``item_age``: add ``ITEM_AGE`` when items have ``created_ts`` (see the module docstring).
        ``inputs``: the input switches (``unisr.data.inputs``; None = version 1, the inputs before issue 31);
        its ``item_age`` adds ``ITEM_AGE`` as ``item_age`` does."""
        inputs = inputs or Inputs()
        item_age = item_age or inputs.item_age
        if id_vocab not in ID_VOCABS:
            raise ValueError(f"id_vocab {id_vocab!r}: expected one of {ID_VOCABS}")
        decls = list(decls or spec.features or default_feature_decls(root, embed_dim))
        # the ids are always features: declarations list the extra columns, the ids come first unless declared
        declared = {(d.table, d.column) for d in decls}
        decls = [FeatureDecl(table=t, column=c, type="categorical")
                 for t, c in (("users", "user_id"), ("items", "item_id")) if (t, c) not in declared] + decls
        tables = {t: read_table(root, t) for t in ("users", "items")}
        user_ids = np.unique(to_numpy(tables["users"]["user_id"]))
        item_ids = np.unique(to_numpy(tables["items"]["item_id"]))
        created, age_tf, id_vocabs = training_window(root, spec, tables["items"], item_ids, id_vocab,
                                                     id_min_count, item_age, train_splits)
        acc = _FitState(root, tables, embed_dim, dict(embed_dims or {}), id_vocabs, inputs)
        for d in decls:
            acc.add(d)
        ev_cols = set(table_columns(root, "events"))
        acc.add_inputs(ev_cols)
        if created is not None:
            acc.dense_names.append(ITEM_AGE)
        counters = None
        if inputs.counters:
            from unisr.data.split import SplitAssigner

            scen_ids = np.array(sorted(s.id for s in spec.scenarios), np.int64)
            counters = CounterIndex.build(
                root, SplitAssigner.for_dataset(root, spec.split), inputs.counters, inputs.counter_days,
                Vocabulary(user_ids).lookup, Vocabulary(item_ids).lookup,
                lambda raw: Vocabulary(scen_ids).lookup(raw) - 1, len(item_ids), len(scen_ids), n_users=len(user_ids))
            acc.dense_names.extend(counters.names)
        sparse_fields, seq_fields = acc.sparse_fields, acc.seq_fields
        cats, denses = acc.cats, acc.denses
        # event-level references to entities share the entities' id spaces: the candidate user of a share
        # impression and the trigger item of a similar-product search
        ev_cols = set(table_columns(root, "events"))
        id_dim = next((f.embed_dim for f in sparse_fields if f.name in ("user_id", "item_id")), embed_dim)
        if "target_user_id" in ev_cols:
            sparse_fields.append(SparseField("target_user_id", "events", len(user_ids) + 1, id_dim))
        if "trigger_item_id" in ev_cols:
            sparse_fields.append(SparseField("trigger_item_id", "events", len(item_ids) + 1, id_dim))

        scen = sorted(spec.scenarios, key=lambda s: s.id)
        schema = FeatureSchema(
            sparse=sparse_fields,
            dense=acc.dense_names,
            sequences=seq_fields,
            scenarios=[s.name for s in scen],
            scenario_kinds=[str(s.kind) for s in scen],
            num_users=len(user_ids),
            num_items=len(item_ids),
            tree_paths=[s.tree_path or [] for s in scen] if any(s.tree_path for s in scen) else None,
            vectors=acc.vec_fields,
        )
        return cls(
            decls=decls,
            scenario_ids=np.array([s.id for s in scen], dtype=np.int64),
            user_ids=user_ids,
            item_ids=item_ids,
            user_cat=_stack(cats["users"], len(user_ids), np.int64),
            item_cat=_stack(cats["items"], len(item_ids), np.int64),
            user_dense=_stack(denses["users"], len(user_ids), np.float32),
            item_dense=_stack(denses["items"], len(item_ids), np.float32),
            vocabs=acc.vocabs,
            dense_tf=acc.dense_tf,
            schema=schema,
            item_seq=acc.item_seq,
            item_created=created,
            age_tf=age_tf,
            options={"id_vocab": id_vocab, "id_min_count": id_min_count, "item_age": created is not None,
                     "train_splits": list(train_splits), "inputs": inputs.as_dict()},
            item_vec=acc.item_vec,
            counters=counters,
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
                        event_cols: dict[str, np.ndarray] | None = None,
                        ts: np.ndarray | None = None, scenario: np.ndarray | None = None
                        ) -> tuple[np.ndarray, np.ndarray]:
        """Sparse [N, F] and dense [N, D] for (user, item) entity indices, in schema field order.

        Event-level id fields (``target_user_id``, ``trigger_item_id``) take their indices from
        ``event_cols`` (entity indices; 0 where the event has none); ``ITEM_AGE`` and the history counters
        (``event.count.*``) need the events' ``ts`` ([N] unix s), the counters also their ``scenario``
        indices [N]."""
        n = len(user_idx)
        ev = event_cols or {}
        zeros = np.zeros(n, np.int64)
        counted: dict[str, np.ndarray] = {}

        def event_dense(name: str) -> np.ndarray:
            if name.startswith(COUNTER_PREFIX) and self.counters is not None:
                if ts is None or scenario is None:
                    raise ValueError(f"dense field {name!r} needs the events' ts and scenario: "
                                     "encode_entities(..., ts=ts, scenario=scenario)")
                if not counted:
                    m = self.counters.features(user_idx, item_idx, scenario, ts)
                    counted.update({k: m[:, j] for j, k in enumerate(self.counters.names)})
                return counted[name]
            if name != ITEM_AGE or self.item_created is None or self.age_tf is None:
                raise ValueError(f"dense field {name!r}: not an event-level field this encoder can compute")
            if ts is None:
                raise ValueError(f"dense field {ITEM_AGE!r} needs the events' ts: encode_entities(..., ts=ts)")
            return self.age_tf(item_age_days(np.asarray(ts), self.item_created[item_idx]))

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
        dcols = interleave([(dense_table(d), d) for d in self.schema.dense],
                           self.user_dense[user_idx], self.item_dense[item_idx], event_dense)
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
        if self.item_created is not None:
            arrays["item_created"] = self.item_created
        for k, v in self.item_vec.items():
            arrays[f"vec/{k}"] = v
        if self.counters is not None:
            arrays.update(self.counters.arrays())
        np.savez(out / "encoders.npz", **arrays)
        meta = {
            "decls": [d.model_dump() for d in self.decls],
            "hash_buckets": {k: v.hash_buckets for k, v in self.vocabs.items()},
            "dense": {k: asdict(v) for k, v in self.dense_tf.items()},
            "schema": self.schema.to_dict(),
            "item_age": asdict(self.age_tf) if self.age_tf is not None else None,
            "options": self.options,
            "counters": self.counters.meta() if self.counters is not None else None,
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
            item_created=z["item_created"] if "item_created" in z.files else None,
            age_tf=DenseTransform(**meta["item_age"]) if meta.get("item_age") else None,
            options=meta.get("options", {}),  # run folders written before issue 31 have none
            item_vec={n[4:]: z[n] for n in z.files if n.startswith("vec/")},
            counters=CounterIndex.from_saved(meta["counters"], z) if meta.get("counters") else None,
        )


def dense_table(name: str) -> str:
    """The table a dense field's values come from: ``user.*`` users, ``event.*`` the events, else items."""
    return "users" if name.startswith("user.") else "events" if name.startswith("event.") else "items"


def has_queries(root: str | Path) -> bool:
    return has_table(root, "queries")
