"""Streaming loader: Parquet row groups -> encoded chunks -> shuffle buffer -> ``Batch``es.

Memory is bounded by the shuffle buffer (``buffer_rows``) plus one row group, unless ``cache`` keeps the
encoded rows of a split in memory (``auto``: when they fit in ``cache_max_rows``), which makes later epochs
cheap on small data without changing the order of samples (the order depends only on seed and epoch).

Scenario batching policies:
  - ``mixed``: batches mix scenarios as they come out of the shuffle buffer;
  - ``alternating``: each batch holds one scenario group; groups take turns (SRJGraph draws search and
    recommendation mini-batches alternately);
  - ``proportional``: each batch holds one scenario group, chosen with probability proportional to
    (rows left in the buffer) ** ``alpha``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from pydantic import BaseModel, ConfigDict, Field

from unisr.data.batch import Batch
from unisr.data.features import FeatureEncoder, to_numpy
from unisr.data.global_labels import GlobalLabelIndex
from unisr.data.history import HistoryIndex
from unisr.data.reader import row_group_index, table_files
from unisr.data.schema import DatasetSpec
from unisr.data.side_tables import QueryTable, TruthLookup
from unisr.data.split import SPLIT_CODES, SplitAssigner

EVENT_COLUMNS = ["event_id", "ts", "user_id", "scenario_id", "item_id", "click", "conversion",
                 "query_id", "trigger_item_id", "target_user_id", "request_id", "session_id", "split", "position"]
NO_POSITION = -1  # ``Batch.position`` of an event without a position (null, or a part without the column)
ROW_GROUPS_PER_RANK = 4  # fewer row groups per rank than this: shard by rows (balanced) instead of row groups


def events_have_positions(root: str | Path) -> bool:
    """Whether any events row has a non-null ``position`` (from the Parquet footers' null counts, no data read;
    a row group without statistics counts as having positions)."""
    for f in table_files(root, "events"):
        md = pq.ParquetFile(f).metadata
        names = [md.schema.column(k).name for k in range(md.num_columns)]
        if "position" not in names:
            continue
        col = names.index("position")
        for rg in range(md.num_row_groups):
            chunk = md.row_group(rg)
            stats = chunk.column(col).statistics
            if stats is None or not stats.has_null_count or stats.null_count < chunk.num_rows:
                return True
    return False


class LoaderConfigError(ValueError):
    """A loader setting does not fit the dataset (the message names the key)."""


class LoaderConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    batch_size: int = 4096
    eval_batch_size: int = 16384
    buffer_rows: int = 1_000_000
    policy: Literal["mixed", "alternating", "proportional"] = "mixed"
    # scenario groups for single-group batches (names, or "kind:<prefix>" e.g. "kind:search"); default: each alone
    groups: list[list[str]] | None = None
    alpha: float = 1.0
    drop_last: bool = False
    cache: Literal["auto", "on", "off"] = "auto"
    cache_max_rows: int = 20_000_000
    scenarios: list[str] | None = None  # keep only these scenarios' events (single-scenario training)
    scenario_kinds: list[str] | None = None  # keep only scenarios of these kinds (e.g. ["share"]); with
    # ``scenarios`` too, a scenario must pass both
    history_len: int = 0  # >0: attach the user's last clicks before each event as sequence ``history``
    # keep only the clicks made in these scenarios in ``history`` (None = every scenario's clicks)
    history_scenarios: list[str] | None = None
    query_max_len: int = 8
    # attach labels ``global_click`` / ``global_buy``: the (user, item) pair was clicked / bought in any of the
    # loaded scenarios within the loader's own splits (USR eq. 9, ``unisr.data.global_labels``)
    global_labels: bool = False
    # data-parallel runs: "rows" = each rank streams its own shard (row groups, or rows of small tables);
    # "batch" = every rank reads the whole stream and keeps its slice of each batch, so ``batch_size`` is the
    # global batch and 2 ranks make the same updates as 1 process (a check of the parallel path; reads all)
    shard: Literal["rows", "batch"] = "rows"
    # an evaluation stream (valid / test) stops after this many rows, the first in file order (per process):
    # bounded smoke / scale runs (benchmarks/large_e2e.py); None = the whole split
    eval_max_rows: int | None = Field(None, ge=1)


@dataclass
class Chunk:
    """Encoded rows as numpy arrays (one dict entry per Batch field)."""

    arrays: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.arrays["scenario_id"])

    def take(self, idx: np.ndarray) -> Chunk:
        return Chunk({k: v[idx] for k, v in self.arrays.items()})

    @staticmethod
    def concat(chunks: list[Chunk]) -> Chunk:
        if len(chunks) == 1:
            return chunks[0]
        keys = chunks[0].arrays.keys()
        return Chunk({k: np.concatenate([c.arrays[k] for c in chunks]) for k in keys})


@dataclass
class DatasetContext:
    """Everything fitted once per dataset that the loaders share (encoder, split rule, side tables)."""

    root: Path
    spec: DatasetSpec
    encoder: FeatureEncoder
    assigner: SplitAssigner
    queries: QueryTable | None
    truth: TruthLookup | None
    history: HistoryIndex | None = None
    labels: list[str] = field(default_factory=lambda: ["click"])
    has_position: bool = False  # some event has a position: batches carry ``Batch.position``

    @classmethod
    def open(cls, root: str | Path, encoder: FeatureEncoder, history: bool = False,
             query_max_len: int = 8) -> DatasetContext:
        from unisr.data.gate import load_spec, open_gate

        root = Path(root)
        spec = load_spec(root)
        open_gate(root, spec)  # the data gate: every read of the events below drops the rows it rejects
        assigner = SplitAssigner.for_dataset(root, spec.split)
        qf = encoder.schema.sequence("query_tokens")
        if qf is not None:
            query_max_len = qf.max_len
        hist = None
        if history:
            hist = HistoryIndex.build(root, encoder.user_index, encoder.item_index, encoder.scenario_index)
        return cls(root, spec, encoder, assigner, QueryTable.load(root, query_max_len),
                   TruthLookup.load(root), hist, list(spec.labels), events_have_positions(root))

    def encode(self, t: pa.Table, splits: set[int], history_len: int = 0,
               scenarios: set[int] | None = None, history: HistoryIndex | None = None) -> Chunk | None:
        """Encode one Arrow chunk of events, keeping the rows of the given split codes (and scenarios).

        ``history`` replaces ``self.history`` for the behaviour sequence (e.g. restricted to some scenarios)."""
        eid = t["event_id"].to_numpy().astype(np.int64)
        ts = t["ts"].to_numpy().astype(np.int64)
        split_col = to_numpy(t["split"]) if "split" in t.column_names else None
        kc = self.assigner.key_column
        key = to_numpy(t[kc]) if kc is not None and kc in t.column_names else None
        code = self.assigner.assign(eid, ts, split_col, key)
        keep = np.isin(code, list(splits))
        if scenarios is not None:
            scen = self.encoder.scenario_index(t["scenario_id"].to_numpy().astype(np.int64))
            keep &= np.isin(scen, list(scenarios))
        if not keep.any():
            return None
        t = t.filter(pa.array(keep))
        eid, ts = eid[keep], ts[keep]
        enc = self.encoder
        u = enc.user_index(t["user_id"].to_numpy())
        i = enc.item_index(t["item_id"].to_numpy())
        ev: dict[str, np.ndarray] = {}
        if "trigger_item_id" in t.column_names:
            ev["trigger_item_id"] = enc.item_index(to_numpy(t["trigger_item_id"]))
        if "target_user_id" in t.column_names:
            ev["target_user_id"] = enc.user_index(to_numpy(t["target_user_id"]))
        scen = enc.scenario_index(t["scenario_id"].to_numpy().astype(np.int64))
        sparse, dense = enc.encode_entities(u, i, ev, ts=ts, scenario=scen)
        a: dict[str, np.ndarray] = {
            "scenario_id": scen,
            "sparse": sparse,
            "dense": dense,
            "user_index": u,
            "item_index": i,
            "event_id": eid,
            "ts": ts,
        }
        for lab in self.labels:
            if lab in t.column_names:
                a[f"label/{lab}"] = to_numpy(t[lab]).astype(np.float32)
        if "request_id" in t.column_names:
            a["request_id"] = to_numpy(t["request_id"])
        if self.has_position:
            a["position"] = (t["position"].cast(pa.int64()).fill_null(NO_POSITION).to_numpy().astype(np.int64)
                             if "position" in t.column_names else np.full(len(eid), NO_POSITION, np.int64))
        if self.truth is not None:
            a["p_click"] = self.truth.lookup(eid)
            nopos = self.truth.lookup_no_position(eid)
            if nopos is not None:
                a["p_click_no_position"] = nopos
        schema = enc.schema
        q = None
        if self.queries is not None and "query_id" in t.column_names:
            q = self.queries.vocab.lookup(to_numpy(t["query_id"]))
            a["query_index"] = q.astype(np.int64)
            if self.queries.tokens is not None:
                a["seq/query_tokens"] = self.queries.tokens[q]
                a["seqmask/query_tokens"] = self.queries.mask[q]
            if self.queries.category is not None and schema.sequence("query.category") is not None:
                a["seq/query.category"] = self.queries.category[q]
                a["seqmask/query.category"] = self.queries.category_mask[q]
        if "trigger_item_id" in ev:
            a["trigger_index"] = ev["trigger_item_id"]
        if "target_user_id" in ev:
            a["target_user_index"] = ev["target_user_id"]
        for name, (ids, mask) in enc.item_seq.items():
            a[f"seq/{name}"] = ids[i]
            a[f"seqmask/{name}"] = mask[i]
        trig = ev.get("trigger_item_id", np.zeros(len(i), np.int64))
        for f in schema.sequences:  # the trigger item's copies of the item sequences (index 0 = no trigger)
            if f.name.startswith("trigger."):
                ids, mask = enc.item_seq[f"item.{f.name[8:]}"]
                a[f"seq/{f.name}"], a[f"seqmask/{f.name}"] = ids[trig], mask[trig]
        for v in schema.vectors:
            if v.table == "items":
                a[f"vec/{v.name}"] = enc.item_vec[v.name][i]
            elif v.name.startswith("trigger."):
                a[f"vec/{v.name}"] = enc.item_vec[f"item.{v.name[8:]}"][trig]
            elif v.name == "query.emb":
                emb = self.queries.emb if self.queries is not None else None
                a["vec/query.emb"] = (emb[q] if emb is not None and q is not None and emb.shape[1] == v.dim
                                      else np.zeros((len(i), v.dim), np.float32))
        hist = history if history is not None else self.history
        if history_len and hist is not None:
            h_items, h_scen, h_mask = hist.lookup(u, ts, history_len)
            a["seq/history"], a["seqmask/history"] = h_items, h_mask
            a["seq/history_scenario"], a["seqmask/history_scenario"] = h_scen, h_mask
        return Chunk(a)


def shard_row_groups(sizes: np.ndarray, order: np.ndarray, rank: int, size: int) -> np.ndarray:
    """The row groups rank ``rank`` of ``size`` reads, in ``order``'s order: each group goes to the rank with
    the fewest rows so far (ties to the lowest rank), so the ranks' row counts differ by at most one group's
    rows and every group is read by exactly one rank. Deterministic in (sizes, order): every rank computes the
    same assignment without talking to the others."""
    order = np.asarray(order, np.int64)
    if size <= 1:
        return order
    load = np.zeros(size, np.int64)
    owner = np.empty(len(order), np.int64)
    for k, g in enumerate(order):  # one step per row group (hundreds to thousands), not per row
        r = int(np.argmin(load))
        owner[k] = r
        load[r] += int(sizes[g])
    return order[owner == rank]


def to_batch(c: Chunk) -> Batch:
    a = c.arrays
    t = torch.from_numpy
    seqs = {k[4:]: (t(v), t(a["seqmask/" + k[4:]])) for k, v in a.items() if k.startswith("seq/")}
    return Batch(
        scenario_id=t(a["scenario_id"]),
        sparse=t(a["sparse"]),
        dense=t(a["dense"]),
        labels={k[6:]: t(v) for k, v in a.items() if k.startswith("label/")},
        user_index=t(a["user_index"]),
        item_index=t(a["item_index"]),
        event_id=t(a["event_id"]),
        request_id=t(a["request_id"]) if "request_id" in a else None,
        p_click=t(a["p_click"]) if "p_click" in a else None,
        p_click_no_position=t(a["p_click_no_position"]) if "p_click_no_position" in a else None,
        sequences=seqs,
        trigger_index=t(a["trigger_index"]) if "trigger_index" in a else None,
        query_index=t(a["query_index"]) if "query_index" in a else None,
        target_user_index=t(a["target_user_index"]) if "target_user_index" in a else None,
        ts=t(a["ts"]) if "ts" in a else None,
        position=t(a["position"]) if "position" in a else None,
        vectors={k[4:]: t(v) for k, v in a.items() if k.startswith("vec/")},
    )


class EventLoader:
    """Iterates the events of one or more splits as ``Batch``es; ``epoch(e)`` is deterministic in (seed, e).

    ``shard`` = (rank, world size) of a data-parallel run: the rank reads only its share of the row groups
    (``shard_row_groups`` over the epoch's seeded order, the same on every rank), so no rank reads the whole
    table and each row is read by one rank; its shuffle buffer holds its own rows only. A table with fewer than
    ``ROW_GROUPS_PER_RANK`` row groups per rank (small data in one or two groups) is sharded by rows instead:
    every rank reads each group and keeps every ``size``-th of its encoded rows, from its rank on."""

    def __init__(self, ctx: DatasetContext, splits: str | list[str], cfg: LoaderConfig, *, train: bool,
                 seed: int = 0, shard: tuple[int, int] = (0, 1)) -> None:
        self.ctx, self.cfg, self.train, self.seed = ctx, cfg, train, seed
        self.shard = shard
        names = [splits] if isinstance(splits, str) else list(splits)
        self.split_codes = {SPLIT_CODES[s] for s in names}
        known = ctx.encoder.schema.scenarios
        for name in cfg.scenarios or []:
            if name not in known:
                raise LoaderConfigError(f"config key data.scenarios: unknown scenario {name!r}; known: {known}")
        self.scenarios = None if cfg.scenarios is None else {known.index(n) for n in cfg.scenarios}
        if cfg.scenario_kinds is not None:
            kinds = ctx.encoder.schema.scenario_kinds
            for k in cfg.scenario_kinds:
                if k not in kinds:
                    raise LoaderConfigError(f"config key data.scenario_kinds: unknown kind {k!r}; "
                                            f"known: {sorted(set(kinds))}")
            of_kind = {i for i, k in enumerate(kinds) if k in cfg.scenario_kinds}
            self.scenarios = of_kind if self.scenarios is None else self.scenarios & of_kind
        for name in cfg.history_scenarios or []:
            if name not in known:
                raise LoaderConfigError(f"config key data.history_scenarios: unknown scenario {name!r}; "
                                        f"known: {known}")
        self.history = ctx.history
        if cfg.history_scenarios is not None and ctx.history is not None:
            self.history = ctx.history.restrict({known.index(n) for n in cfg.history_scenarios})
        self.global_labels = None
        if cfg.global_labels:
            enc = ctx.encoder
            self.global_labels = GlobalLabelIndex.build(ctx.root, enc.user_index, enc.item_index, enc.scenario_index,
                                                        ctx.assigner, self.split_codes, self.scenarios)
        self.row_groups = row_group_index(ctx.root, "events")
        total = sum(n for _, _, n in self.row_groups)
        self.use_cache = cfg.cache == "on" or (cfg.cache == "auto" and total <= cfg.cache_max_rows)
        self._cache: dict[int, Chunk | None] | None = None
        self.batch_size = cfg.batch_size if train else cfg.eval_batch_size
        n_scen = ctx.encoder.schema.num_scenarios
        groups = cfg.groups or [[s] for s in ctx.encoder.schema.scenarios]
        self.group_of = np.full(n_scen, -1, np.int64)
        schema = ctx.encoder.schema
        for gi, g in enumerate(groups):
            for name in g:
                if name.startswith("kind:"):  # every scenario whose kind starts with the prefix
                    hits = [i for i, k in enumerate(schema.scenario_kinds) if k.startswith(name[5:])]
                elif name in schema.scenarios:
                    hits = [schema.scenarios.index(name)]
                else:
                    raise LoaderConfigError(f"config key data.groups: unknown scenario {name!r}")
                self.group_of[hits] = gi
        if (self.group_of < 0).any():  # scenarios not named in any group form their own groups
            for s in np.flatnonzero(self.group_of < 0):
                self.group_of[s] = self.group_of.max() + 1
        self.num_groups = int(self.group_of.max()) + 1

    # ------------------------------------------------------------- chunks
    def _read_chunks(self, rng: np.random.Generator | None) -> Iterator[Chunk]:
        """Encoded chunks, one per row group, in a seeded random order (train) or file order (eval).

        The order depends only on the rng, never on whether the chunk came from the cache, so an epoch is
        the same whether it is the first of a process (after a resume) or a later one.
        """
        from unisr.data.gate import active_gate

        order = rng.permutation(len(self.row_groups)) if rng is not None else np.arange(len(self.row_groups))
        rank, size = self.shard
        if self.cfg.shard == "batch":
            size = 1  # the whole stream; ``epoch`` slices each batch
        by_rows = size > 1 and len(self.row_groups) < ROW_GROUPS_PER_RANK * size
        if size > 1 and not by_rows:
            sizes = np.array([n for _, _, n in self.row_groups], np.int64)
            order = shard_row_groups(sizes, order, *self.shard)
        gate = active_gate(self.ctx.root)  # the rows the data gate rejected are never encoded
        for j in order:
            if self._cache is not None and j in self._cache:
                c = self._cache[j]
            else:
                f, rg, _ = self.row_groups[j]
                pf = pq.ParquetFile(f)
                cols = [c for c in EVENT_COLUMNS if c in pf.schema_arrow.names]
                t = pf.read_row_group(rg, columns=cols)
                if gate is not None:
                    t = gate.filter(f, rg, t)
                c = self.ctx.encode(t, self.split_codes, self.cfg.history_len, self.scenarios, self.history)
                if c is not None and by_rows:
                    c = c.take(np.arange(rank, len(c), size)) if len(c) > rank else None
                if c is not None and self.global_labels is not None:
                    self.global_labels.attach(c.arrays)
                if self.use_cache:
                    if self._cache is None:
                        self._cache = {}
                    self._cache[j] = c
            if c is not None:
                yield c

    def __len__(self) -> int:
        """Number of rows of the selected splits (one pass over the data the first time)."""
        return sum(len(c) for c in self._read_chunks(None))

    def epoch(self, epoch: int = 0) -> Iterator[Batch]:
        rank, size = self.shard
        if self.cfg.shard == "batch" and size > 1:  # this rank's rows of each global batch
            for b in self._epoch(epoch):
                yield b.select(torch.arange(rank, len(b), size))
            return
        yield from self._epoch(epoch)

    def _epoch(self, epoch: int) -> Iterator[Batch]:
        rng = np.random.default_rng([self.seed, epoch]) if self.train else None
        bs = self.batch_size
        if not self.train:
            pending: list[Chunk] = []
            n = 0
            left = self.cfg.eval_max_rows
            for c in self._read_chunks(None):
                if left is not None:  # data.eval_max_rows: the first rows only
                    if left <= 0:
                        break
                    c = c.take(np.arange(left)) if len(c) > left else c
                    left -= len(c)
                pending.append(c)
                n += len(c)
                while n >= bs:
                    buf = Chunk.concat(pending)
                    yield to_batch(buf.take(np.arange(bs)))
                    rest = buf.take(np.arange(bs, len(buf)))
                    pending, n = [rest], len(rest)
            if n:
                yield to_batch(Chunk.concat(pending))
            return
        buffer: list[Chunk] = []
        n = 0
        leftovers: list[Chunk] = []
        for c in self._read_chunks(rng):
            buffer.append(c)
            n += len(c)
            if n >= self.cfg.buffer_rows:
                leftovers = yield from self._emit(Chunk.concat(leftovers + buffer), rng, final=False)
                buffer, n = [], 0
        if buffer or leftovers:
            yield from self._emit(Chunk.concat(leftovers + buffer), rng, final=True)

    def __iter__(self) -> Iterator[Batch]:
        return self.epoch(0)

    def _emit(self, buf: Chunk, rng: np.random.Generator, final: bool):
        """Yield batches from a shuffled buffer; returns the rows kept for the next buffer."""
        bs = self.batch_size
        perm = rng.permutation(len(buf))
        buf = buf.take(perm)
        if self.cfg.policy == "mixed":
            full = len(buf) // bs
            for b in range(full):
                yield to_batch(buf.take(np.arange(b * bs, (b + 1) * bs)))
            rest = np.arange(full * bs, len(buf))
            if not final:
                return [buf.take(rest)] if len(rest) else []
            if len(rest) and not self.cfg.drop_last:
                yield to_batch(buf.take(rest))
            return []
        group = self.group_of[buf.arrays["scenario_id"]]
        pools = [np.flatnonzero(group == g) for g in range(self.num_groups)]
        ptr = [0] * self.num_groups
        turn = 0
        while True:
            avail = [g for g in range(self.num_groups) if len(pools[g]) - ptr[g] >= bs]
            if not avail:
                break
            if self.cfg.policy == "alternating":
                order = [(turn + k) % self.num_groups for k in range(self.num_groups)]
                g = next(x for x in order if x in avail)
                turn = g + 1
            else:
                w = np.array([(len(pools[x]) - ptr[x]) ** self.cfg.alpha for x in avail], np.float64)
                g = avail[int(rng.choice(len(avail), p=w / w.sum()))]
            yield to_batch(buf.take(pools[g][ptr[g]:ptr[g] + bs]))
            ptr[g] += bs
        rests = [pools[g][ptr[g]:] for g in range(self.num_groups) if len(pools[g]) > ptr[g]]
        if not final:
            return [buf.take(np.concatenate(rests))] if rests else []
        if not self.cfg.drop_last:
            for r in rests:
                yield to_batch(buf.take(r))
        return []
