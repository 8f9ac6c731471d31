"""What a served run does with a request: raw ids -> the run's ``Batch`` (through the run's own ``Pipeline``:
the encoder, side tables, history and graph sampler of training and evaluation) -> scores or top-k items.

A request's rows are encoded by ``DatasetContext.encode`` exactly as the loader encodes logged events (the rows
are declared to be "test" rows, so no split rule drops them), then the model's sampler, when it has one, fills
``batch.subgraph`` from the graph snapshot, re-seeded per request with the test split's seed (the same request
gets the same neighbourhoods). Unknown users, items, triggers and query ids take the vocabularies'
out-of-vocabulary index 0 (a new item still gets nothing but its OOV row: its content features are looked up
by entity index); unknown query terms (outside the token vocabulary) are dropped from the query.

Concurrent requests to a ranking run without a sampler, and to a matching run, run together (``Batcher``):
rows of several requests in one batch, one forward pass, results split back per request.

Shapes:
    RankRuntime.rank(Part(request, item_ids [N])) -> scores [N] float32 (probabilities, input order)
    MatchRuntime.retrieve(scenario, user, ..., k, exclude [E]) -> (item_ids [<=k] int64, scores [<=k] float32)
"""

from __future__ import annotations

import dataclasses
import queue
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch

from unisr.data.batch import Batch
from unisr.data.loader import to_batch
from unisr.data.reader import table_columns
from unisr.data.schema import ColumnSplit
from unisr.data.split import SPLIT_CODES, SplitAssigner
from unisr.models.registry import get_model_info
from unisr.pipeline.pipeline import EVAL_SAMPLING_SEED, SEED_STRIDE
from unisr.pipeline.run_folder import open_run

ALL_SPLITS = set(SPLIT_CODES.values())
SERVE_SEED = EVAL_SAMPLING_SEED["test"] * SEED_STRIDE  # requests sample as the test split does


@dataclasses.dataclass(frozen=True)
class Request:
    """One request's context (raw ids; None = absent). ``ts`` None = the snapshot's time (its last event + 1)."""

    scenario: int  # scenario index 0..S-1
    user_id: int | None = None
    query_id: int | None = None
    tokens: tuple[int, ...] | None = None
    trigger_item_id: int | None = None
    target_user_id: int | None = None
    ts: int | None = None


class UnknownScenario(KeyError):
    """The request names a scenario the run does not know."""


class NotIndexed(UnknownScenario):
    """A scenario the matching run knows but saved no item index for (a per-scenario model indexes the
    scenarios it trained or evaluated on only); args = (name, the indexed scenarios)."""


class Runtime:
    """A run opened for serving: model, encoder and the run's pipeline (side tables, history, sampler).

    Shapes:
        rows([Part with N_i rows, ...]) -> Batch of sum(N_i) rows
    """

    def __init__(self, run: str | Path, data: str | Path | None = None, graph_dir: str | Path | None = None,
                 role: str | None = None) -> None:
        t0 = time.perf_counter()
        self.run = Path(run)
        self.cfg, self.encoder, self.net, self.pipe = open_run(run, data, graph_dir=graph_dir)
        self.info = get_model_info(self.cfg.model_name)
        self.task = self.info.task
        self.role = role or self.task
        ctx = self.pipe.ctx
        # serving rows are "test" rows by declaration: a column split keeps every one of them
        self.ctx = dataclasses.replace(ctx, assigner=SplitAssigner(ColumnSplit()), truth=None)
        self.history = self.pipe.loader("test").history
        self.history_len = self.cfg.data.history_len
        self.sampler = self.pipe.sampler
        self.lock = threading.Lock()  # the sampler's generator is per process: one sampled request at a time
        self.scenarios = list(self.encoder.schema.scenarios)
        self.scenario_raw = np.asarray(self.encoder.scenario_ids, np.int64)
        qf = self.encoder.schema.sequence("query_tokens")
        self.query_len = qf.max_len if qf is not None else 0
        self.token_vocab = qf.vocab_size if qf is not None else 0
        self.event_columns = set(table_columns(ctx.root, "events"))
        self.snapshot_ts = _last_ts(ctx.root) + 1
        self.load_seconds = time.perf_counter() - t0

    # ------------------------------------------------------------------ encoding
    def scenario_index(self, name: str) -> int:
        try:
            return self.scenarios.index(name)
        except ValueError:
            raise UnknownScenario(name) from None

    def rows(self, parts: list[Part]) -> Batch:
        """One batch of the rows of one or more requests (``parts``, in order; one row per candidate)."""
        sizes = [p.n for p in parts]
        n = sum(sizes)

        def col(values: list, per_row: list[np.ndarray | None] | None = None) -> pa.Array:
            """int64 column: each part's scalar (None = null) repeated, or its per-row array (``per_row``)."""
            triples = list(zip(values, per_row or [None] * len(sizes), sizes, strict=True))
            vals = np.concatenate([r if r is not None else np.full(k, -1 if v is None else v, np.int64)
                                   for v, r, k in triples])
            null = np.concatenate([np.full(k, v is None and r is None) for v, r, k in triples])
            return pa.array(vals.astype(np.int64), mask=null if null.any() else None)

        reqs = [p.request for p in parts]
        cols = {
            "event_id": pa.array(np.arange(n, dtype=np.int64)),
            "ts": col([r.ts if r.ts is not None else self.snapshot_ts for r in reqs]),
            "user_id": col([r.user_id if r.user_id is not None else -1 for r in reqs]),
            "scenario_id": col([int(self.scenario_raw[r.scenario]) for r in reqs]),
            "item_id": pa.array(np.concatenate([p.item_rows() for p in parts])),
            "split": pa.array(np.full(n, "test", object), pa.string()),
        }
        extra = {"trigger_item_id": ([r.trigger_item_id for r in reqs], None),
                 "target_user_id": ([r.target_user_id for r in reqs], [p.target_user_ids for p in parts]),
                 "query_id": ([r.query_id for r in reqs], None)}
        for name, (vals, per_row) in extra.items():
            if name in self.event_columns:  # only the columns the logged events have (as in training)
                cols[name] = col(vals, per_row)
        chunk = self.ctx.encode(pa.table(cols), ALL_SPLITS, self.history_len, None, self.history)
        a = chunk.arrays
        if "seq/query_tokens" in a and any(r.tokens is not None for r in reqs):
            ids, mask = a["seq/query_tokens"], a["seqmask/query_tokens"]
            at = np.cumsum([0, *sizes])
            for k, r in enumerate(reqs):  # one assignment per request (not per row)
                if r.tokens is not None:
                    ids[at[k]:at[k + 1]], mask[at[k]:at[k + 1]] = self._tokens(r.tokens)
        batch = to_batch(chunk)
        if self.sampler is not None:
            self.sampler.reset(SERVE_SEED)
            batch = self.sampler(batch)
        return batch

    def _tokens(self, tokens: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        """Raw term ids -> the padded, +1-shifted ids of ``pad_lists`` [L]; unknown terms dropped."""
        t = np.asarray(tokens, np.int64) + 1
        t = t[(t >= 1) & (t < self.token_vocab)][: self.query_len]
        ids = np.zeros(self.query_len, np.int64)
        ids[: len(t)] = t
        return ids, np.arange(self.query_len) < len(t)


@dataclasses.dataclass(frozen=True)
class Part:
    """One request's rows: its context and candidate items (or, for share scenarios, candidate receivers
    ``target_user_ids`` [N] of ``item_ids`` [1] or [N]).

    Shapes:
        item_ids [N] or [1]; target_user_ids [N] or None -> n rows
    """

    request: Request
    item_ids: np.ndarray
    target_user_ids: np.ndarray | None = None

    @property
    def n(self) -> int:
        return len(self.target_user_ids) if self.target_user_ids is not None else len(self.item_ids)

    def item_rows(self) -> np.ndarray:
        ids = np.asarray(self.item_ids, np.int64)
        return np.broadcast_to(ids, (self.n,)) if len(ids) == 1 else ids


class RankRuntime(Runtime):
    """A ranking run: ``rank`` scores candidate items (the model's position-free click probability).
    Without a sampler, concurrent requests are scored together (``Batcher``) when one is attached.

    Shapes:
        rank(part with N rows) -> [N] float32; score(parts) -> [sum N] float32
    """

    batcher: Batcher | None = None

    @torch.no_grad()
    def score(self, parts: list[Part]) -> np.ndarray:
        return torch.sigmoid(self.net(self.rows(parts))["click"]).numpy().astype(np.float32)

    def run_parts(self, parts: list[Part]) -> list[np.ndarray]:
        """``score`` of several requests in one pass, split back per request (the ``Batcher``'s call)."""
        out = self.score(parts)
        at = np.cumsum([0, *(p.n for p in parts)])
        return [out[at[k]:at[k + 1]] for k in range(len(parts))]

    def rank(self, part: Part) -> np.ndarray:
        if part.n == 0:
            return np.zeros(0, np.float32)
        if self.sampler is not None:  # re-seeded per request: one sampled request at a time
            with self.lock:
                return self.score([part])
        if self.batcher is not None:
            return self.batcher.submit(self, part)
        return self.score([part])


class Batcher:
    """Runs the requests that wait together in one pass (``runtime.run_parts``: one forward of a ranker, one
    tower pass + one index search per scenario of a matching run): one thread takes the first waiting request
    and every other one queued behind it (up to ``max_rows`` rows) for the same runtime; nothing waits for a
    batch to fill, so a lone request runs at once.

    Shapes:
        submit(runtime, part with N rows) -> that part's result ([N] float32 scores; (ids, scores) top-k)
    """

    def __init__(self, max_rows: int = 16_384) -> None:
        self.max_rows = max_rows
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.sizes: list[int] = []  # requests per forward pass (the benchmark reads it)
        threading.Thread(target=self._loop, daemon=True, name="unisr-batcher").start()

    def submit(self, rt: Runtime, part) -> object:  # noqa: ANN001 - a Part or a Retrieval
        slot = {"rt": rt, "part": part, "done": threading.Event()}
        self.queue.put(slot)
        slot["done"].wait()
        if "error" in slot:
            raise slot["error"]
        return slot["out"]

    def _loop(self) -> None:
        pending = None
        while True:
            group = [pending or self.queue.get()]
            pending = None
            rows = group[0]["part"].n
            while rows < self.max_rows:
                try:
                    s = self.queue.get_nowait()
                except queue.Empty:
                    break
                if s["rt"] is not group[0]["rt"]:  # another generation's request: next group
                    pending = s
                    break
                group.append(s)
                rows += s["part"].n
            self._run(group)

    def _run(self, group: list[dict]) -> None:
        rt = group[0]["rt"]
        try:
            for s, out in zip(group, rt.run_parts([s["part"] for s in group]), strict=True):
                s["out"] = out
            self.sizes.append(len(group))
        except Exception:  # noqa: BLE001 - one bad request must not fail the others: run them one by one
            for s in group:
                try:
                    s["out"] = rt.run_parts([s["part"]])[0]
                except Exception as e:  # noqa: BLE001 - re-raised in the request's own thread
                    s["error"] = e
        finally:
            for s in group:
                s["done"].set()


class MatchRuntime(Runtime):
    """A matching run: the user / query / trigger tower's vector, top-k from the scenario's FAISS index.

    Shapes:
        retrieve(request, k, exclude [E]) -> (item_ids [<=k] int64, scores [<=k] float32)
    """

    def __init__(self, run: str | Path, data: str | Path | None = None, graph_dir: str | Path | None = None,
                 role: str | None = None) -> None:
        super().__init__(run, data, graph_dir, role)
        from unisr.index.faiss_index import load_indexes

        if hasattr(self.net, "attach_items"):
            self.net.attach_items(self.encoder)
        self.indexes = load_indexes(self.run / "item_index")
        if not any(n in self.indexes for n in self.scenarios):
            from unisr.pipeline.run_folder import RunFolderError

            raise RunFolderError(f"{self.run / 'item_index' / 'manifest.json'}: no index for any scenario of the run")

    def scenario_index(self, name: str) -> int:
        s = super().scenario_index(name)
        if name not in self.indexes:  # known, not indexed: 404 naming the indexed ones
            raise NotIndexed(name, [n for n in self.scenarios if n in self.indexes])
        return s

    batcher: Batcher | None = None

    @torch.no_grad()
    def vectors(self, reqs: list[Request]) -> np.ndarray:
        """The requests' query vectors [R, d] (the user tower on one row each; its item is the OOV item)."""
        batch = self.rows([Part(r, np.zeros(1, np.int64)) for r in reqs])
        return self.net.user_vectors(batch).float().numpy()

    def run_parts(self, parts: list[Retrieval]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Top-k of several requests: one tower pass, one index search per scenario present."""
        vecs = self.vectors([p.request for p in parts])
        scen = np.array([p.request.scenario for p in parts])
        out: list = [None] * len(parts)
        for s in np.unique(scen):  # one search per scenario present (an index per scenario)
            rows = np.flatnonzero(scen == s)
            k = max(parts[r].k + len(parts[r].exclude) for r in rows)
            scores, ids = self.indexes[self.scenarios[s]].search(vecs[rows], k)
            for j, r in enumerate(rows):  # per request: its exclusions and its own k
                keep = (ids[j] >= 0) & ~np.isin(ids[j], parts[r].exclude)
                out[r] = ids[j][keep][: parts[r].k], scores[j][keep][: parts[r].k].astype(np.float32)
        return out

    def retrieve(self, req: Request, k: int, exclude: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        part = Retrieval(req, k, np.unique(np.asarray(exclude if exclude is not None else [], np.int64)))
        if self.batcher is not None:
            return self.batcher.submit(self, part)  # type: ignore[return-value]
        return self.run_parts([part])[0]


@dataclasses.dataclass(frozen=True)
class Retrieval:
    """One retrieve request: its context, k and the item ids to leave out (one tower row).

    Shapes:
        exclude [E] int64 (unique); n = 1 row
    """

    request: Request
    k: int
    exclude: np.ndarray
    n: int = 1


def open_runtime(run: str | Path, data: str | Path | None = None, graph_dir: str | Path | None = None) -> Runtime:
    """A ``RankRuntime`` or ``MatchRuntime`` by the run's registered task."""
    from unisr.pipeline.run_folder import read_config

    task = get_model_info(read_config(run).model_name).task
    return (MatchRuntime if task == "matching" else RankRuntime)(run, data, graph_dir)


def _last_ts(root: Path) -> int:
    """The largest event ts of the dataset (from the Parquet statistics where present)."""
    import pyarrow.compute as pc

    from unisr.data.reader import iter_row_groups

    hi = 0
    for _, _, t in iter_row_groups(root, "events", ["ts"]):
        hi = max(hi, int(pc.max(t["ts"]).as_py() or 0))
    return hi
