"""What a served run does with a request: raw ids -> the run's ``Batch`` (through the run's own ``Pipeline``:
the encoder, side tables, history and graph sampler of training and evaluation) -> scores or top-k items.

A request's rows are encoded by ``DatasetContext.encode`` exactly as the loader encodes logged events (the rows
are declared to be "test" rows, so no split rule drops them), then the model's sampler, when it has one, fills
``batch.subgraph`` from the graph snapshot, re-seeded per request with the test split's seed (the same request
gets the same neighbourhoods). Unknown users, items, triggers and query ids take the vocabularies'
out-of-vocabulary index 0 (a new item still gets nothing but its OOV row: its content features are looked up
by entity index); unknown query terms (outside the token vocabulary) are dropped from the query.

Concurrent requests to a ranking run without a sampler, and to a matching run, run together (``Batcher``):
rows of several requests in one batch, one forward pass, results split back per request; the app's async
endpoints wait for it on an event-loop future (``submit_async``, ``rank_async``, ``retrieve_async``).

A matching model that samples its own graph (``attach_graph``: BOMGraph) gets that graph attached from the
run's dataset, or, from a bundle, the snapshot the bundle carries (``pipeline/model_graph.py``, the code
training's ``attach_run_graph`` runs; never rebuilt in a bundle). Its queries are graph nodes, so
``NodeQueries`` resolves each request first: a search_text query by its ``query_id`` or by the terms of a
logged keyword query, a search_visual query by its ``emb`` (and / or a logged ``query_id``), a search_similar
query by a known ``trigger_item_id``; what the model cannot embed is a ``BadField`` (422 naming the field). A
model with ``retrieval_category`` retrieves within each request's ``query_category`` as evaluation does
(``evaluate/retrieval.py:evaluate_retrieval(item_category=)``: the FAISS ID selector of
``index/faiss_index.py:search(allowed=)``); category -1 (unknown) searches every item.

Shapes:
    RankRuntime.rank(Part(request, item_ids [N])) -> scores [N] float32 (probabilities, input order)
    MatchRuntime.retrieve(scenario, user, ..., k, exclude [E]) -> (item_ids [<=k] int64, scores [<=k] float32)
    Request.emb [Q] (query.emb of a visual query, Q = the schema's width) -> batch.vectors["query.emb"] [B, Q]
"""

from __future__ import annotations

import asyncio
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
    emb: tuple[float, ...] | None = None  # a visual query's embedding (replaces the logged query's ``emb``)


class BadField(ValueError):
    """A request field the served run cannot use (422): args = (dotted field, message)."""

    @property
    def field(self) -> str:
        return self.args[0]


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
        if any(r.emb is not None for r in reqs):
            self._emb(a, reqs, sizes)
        batch = to_batch(chunk)
        if self.sampler is not None:
            self.sampler.reset(SERVE_SEED)
            batch = self.sampler(batch)
        return batch

    def _emb(self, a: dict, reqs: list[Request], sizes: list[int]) -> None:
        """Each request's ``emb`` into its rows of ``vec/query.emb`` (one assignment per request)."""
        v = a.get("vec/query.emb")
        if v is None:
            raise BadField("query.emb", "this run reads no query embedding (its schema has no query.emb)")
        at = np.cumsum([0, *sizes])
        for k, r in enumerate(reqs):
            if r.emb is not None:
                if len(r.emb) != v.shape[1]:
                    raise BadField("query.emb", f"{len(r.emb)} values; the run's query.emb has {v.shape[1]}")
                v[at[k]:at[k + 1]] = np.asarray(r.emb, np.float32)

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

    @torch.inference_mode()
    def score(self, parts: list[Part]) -> np.ndarray:
        return torch.sigmoid(self.net(self.rows(parts))["click"]).numpy().astype(np.float32)

    def run_parts(self, parts: list[Part]) -> list[np.ndarray]:
        """``score`` of several requests in one pass, split back per request (the ``Batcher``'s call)."""
        out = self.score(parts)
        at = np.cumsum([0, *(p.n for p in parts)])
        return [out[at[k]:at[k + 1]] for k in range(len(parts))]

    async def rank_async(self, part: Part) -> np.ndarray:
        """``rank`` from the event loop: the batcher's future, else (a sampler) a worker thread."""
        if part.n and self.sampler is None and self.batcher is not None:
            return await self.batcher.submit_async(self, part)  # type: ignore[return-value]
        return await asyncio.to_thread(self.rank, part)

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

    async def submit_async(self, rt: Runtime, part) -> object:  # noqa: ANN001 - a Part or a Retrieval
        """``submit`` from the event loop: the request waits on a future, not on a thread of the pool."""
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        slot = {"rt": rt, "part": part, "done": _Wake(loop, fut)}
        self.queue.put(slot)
        await fut
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


class _Wake:
    """``Event.set`` for a request waiting on the event loop: completes its future from the batcher's thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop, fut: asyncio.Future) -> None:
        self.loop, self.fut = loop, fut

    def set(self) -> None:
        self.loop.call_soon_threadsafe(self._done)

    def _done(self) -> None:
        if not self.fut.done():
            self.fut.set_result(None)


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
        if hasattr(self.net, "attach_graph"):  # the model's own graph: a bundle's snapshot is only loaded
            from unisr.pipeline.model_graph import attach_model_graph

            attach_model_graph(self.net, self.cfg, self.pipe, root=self.ctx.root, build=graph_dir is None)
        self.indexes = load_indexes(self.run / "item_index")
        if not any(n in self.indexes for n in self.scenarios):
            from unisr.pipeline.run_folder import RunFolderError

            raise RunFolderError(f"{self.run / 'item_index' / 'manifest.json'}: no index for any scenario of the run")
        self.nodes = NodeQueries(self) if hasattr(self.net, "attach_graph") and hasattr(self.net, "query_group") \
            else None
        cat = getattr(self.net, "retrieval_category", None)  # [N + 1] per item entity: in-category retrieval
        self.item_category = None if cat is None else np.asarray(cat, np.int64)
        if self.item_category is not None:  # category -> its index rows (entity r + 1 = row r), as evaluation
            rows = self.item_category[1:]
            self.category_rows = {int(c): np.flatnonzero(rows == c) for c in np.unique(rows)}

    def scenario_index(self, name: str) -> int:
        s = super().scenario_index(name)
        if name not in self.indexes:  # known, not indexed: 404 naming the indexed ones
            raise NotIndexed(name, [n for n in self.scenarios if n in self.indexes])
        return s

    batcher: Batcher | None = None

    @torch.no_grad()
    def vectors(self, reqs: list[Request]) -> np.ndarray:
        """The requests' query vectors [R, d] (the user tower on one row each; its item is the OOV item)."""
        return self.encode(reqs)[0]

    @torch.no_grad()
    def encode(self, reqs: list[Request]) -> tuple[np.ndarray, np.ndarray | None]:
        """Query vectors [R, d] and, for in-category retrieval, each request's category [R] (-1 unknown):
        the model's ``user_vectors`` and ``query_category`` on the same batch, as evaluation computes them."""
        batch = self.rows([Part(r, np.zeros(1, np.int64)) for r in reqs])
        if self.nodes is not None:  # a graph-attached model: one forward at a time (also without the batcher)
            with self.lock:
                vecs = self.net.user_vectors(batch).float().numpy()
        else:
            vecs = self.net.user_vectors(batch).float().numpy()
        cats = (None if self.item_category is None
                else np.asarray(self.net.query_category(batch).numpy(), np.int64))
        return vecs, cats

    def run_parts(self, parts: list[Retrieval]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Top-k of several requests: one tower pass, one index search per scenario present (per scenario and
        category with in-category retrieval)."""
        from unisr.index.faiss_index import search

        vecs, cats = self.encode([p.request for p in parts])
        scen = np.array([p.request.scenario for p in parts])
        groups = scen.astype(np.int64) if cats is None else np.stack([scen, cats], 1)
        out: list = [None] * len(parts)
        for g in np.unique(groups, axis=0):  # one search per scenario (and category) present
            rows = np.flatnonzero((groups == g).reshape(len(parts), -1).all(1))
            ix = self.indexes[self.scenarios[int(np.atleast_1d(g)[0])]]
            k = max(parts[r].k + len(parts[r].exclude) for r in rows)
            allowed = None
            if cats is not None and int(g[1]) >= 0:  # an unknown category (-1) searches every item
                allowed = self.category_rows.get(int(g[1]), np.zeros(0, np.int64))
            if allowed is not None and not len(allowed):  # a category without items: nothing retrieved
                for r in rows:
                    out[r] = np.zeros(0, np.int64), np.zeros(0, np.float32)
                continue
            scores, found = search(ix.index, vecs[rows], k, allowed=allowed)
            ids = np.where(found >= 0, ix.item_ids[np.maximum(found, 0)], -1)
            for j, r in enumerate(rows):  # per request: its exclusions and its own k
                keep = (ids[j] >= 0) & ~np.isin(ids[j], parts[r].exclude)
                out[r] = ids[j][keep][: parts[r].k], scores[j][keep][: parts[r].k].astype(np.float32)
        return out

    async def retrieve_async(self, req: Request, k: int, exclude: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``retrieve`` from the event loop: the batcher's future, else a worker thread."""
        if self.batcher is None:
            return await asyncio.to_thread(self.retrieve, req, k, exclude)
        if self.nodes is not None:
            req = self.nodes.resolve(req)
        part = Retrieval(req, k, np.unique(np.asarray(exclude if exclude is not None else [], np.int64)))
        return await self.batcher.submit_async(self, part)  # type: ignore[return-value]

    def retrieve(self, req: Request, k: int, exclude: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        if self.nodes is not None:  # graph-node queries: resolved (or refused, 422) before any batching
            req = self.nodes.resolve(req)
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


class NodeQueries:
    """Request -> the graph node a graph-attached matching model (BOMGraph) queries with, per scenario kind:
    search_text: ``query.query_id`` (a logged query) or ``query.tokens`` equal to a logged query's terms (the first
    such query that is a keyword node of the graph, else the first); search_visual: ``query.emb`` (its category:
    that of ``query.query_id`` when given, else unknown) or a logged ``query.query_id``; search_similar: a
    ``trigger_item_id`` in the item vocabulary. Anything else is a ``BadField``: such a model embeds the nodes
    of its graph, never an unknown keyword or trigger (an out-of-vocabulary row would be a constant vector).

    Shapes:
        resolve(Request) -> Request (``query_id`` filled from the terms where given by ``tokens``)
    """

    def __init__(self, rt: MatchRuntime) -> None:
        self.kinds = list(rt.encoder.schema.scenario_kinds)
        self.model = rt.cfg.model_name
        self.item_vocab = np.asarray(rt.encoder.item_ids, np.int64)
        q = rt.ctx.queries
        self.query_ids = np.asarray(q.vocab.values, np.int64) if q is not None and q.vocab.values is not None \
            else np.zeros(0, np.int64)
        # the logged queries' term sequences, sorted (one void key per row), and the QueryTable row of each
        self.max_len, self.term_keys, self.term_rows = 0, np.zeros(0, "V8"), np.zeros(0, np.int64)
        if q is not None and q.tokens is not None:
            self.max_len = q.tokens.shape[1]
            node = getattr(rt.net, "query_node", None)
            node = np.asarray(node, np.int64) if node is not None else np.zeros(len(q.tokens), np.int64)
            is_node = np.zeros(len(q.tokens), bool)
            is_node[: len(node)] = node[: len(q.tokens)] > 0
            has = q.mask.any(1)
            has[0] = False
            # keyword nodes first, then the other rows, each by row: the first row per term sequence wins
            order = np.concatenate([np.flatnonzero(has & is_node), np.flatnonzero(has & ~is_node)])
            keys = self._keys(np.where(q.mask, q.tokens, 0)[order])
            self.term_keys, first = np.unique(keys, return_index=True)
            self.term_rows = order[first]

    def _known_query(self, qid: int) -> bool:
        at = np.searchsorted(self.query_ids, qid)
        return bool(at < len(self.query_ids) and self.query_ids[at] == qid)

    def resolve(self, req: Request) -> Request:
        kind = self.kinds[req.scenario]
        if req.query_id is not None and not self._known_query(req.query_id):
            raise BadField("query.query_id", f"unknown query id {req.query_id} (not in the dataset's queries; "
                                             f"{self.model} embeds logged queries only)")
        if kind == "search_similar":
            t = req.trigger_item_id
            if t is None:
                raise BadField("trigger_item_id", f"required in a search_similar scenario ({self.model} starts "
                                                  "from the trigger item's graph node)")
            at = np.searchsorted(self.item_vocab, t)
            if not (at < len(self.item_vocab) and self.item_vocab[at] == t):
                raise BadField("trigger_item_id", f"unknown item {t} (not in the run's item vocabulary)")
        elif kind == "search_text" and req.query_id is None:
            if req.tokens is None:
                raise BadField("query", "a search_text scenario needs query.query_id or query.tokens")
            row = self._row_of_terms(req.tokens)
            if row is None:
                raise BadField("query.tokens", f"no logged keyword query has these terms ({self.model} embeds "
                                               "the keyword nodes of its graph; give a logged query's terms or id)")
            req = dataclasses.replace(req, query_id=int(self.query_ids[row - 1]))
        elif kind == "search_visual" and req.emb is None and req.query_id is None:
            raise BadField("query.emb", "a search_visual scenario needs query.emb (or a logged query.query_id)")
        return req

    def _keys(self, terms: np.ndarray) -> np.ndarray:
        """[R, L] padded term rows -> [R] comparable keys (each row's bytes as one void value)."""
        t = np.ascontiguousarray(terms, np.int64)
        return t.view(np.dtype((np.void, 8 * t.shape[1]))).ravel()

    def _row_of_terms(self, tokens: tuple[int, ...]) -> int | None:
        """Raw term ids -> the QueryTable row of the logged query with exactly these (padded, +1-shifted) terms."""
        t = np.asarray(tokens, np.int64)[: self.max_len] + 1
        if not len(t) or not len(self.term_keys):
            return None
        row = np.zeros((1, self.max_len), np.int64)
        row[0, : len(t)] = t
        key = self._keys(row)
        at = int(np.searchsorted(self.term_keys, key)[0])
        if at < len(self.term_keys) and self.term_keys[at] == key[0]:
            return int(self.term_rows[at])
        return None


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
