"""The simulator's true click probability of any (request context, item) pair, after the data were written.

A simulated dataset can be scored again exactly. ``dataset.yaml``'s ``simulator:`` holds the resolved config and
the seed, from which ``build_world`` rebuilds the world (catalogue, users, query pool, scenarios) bit for bit
(checked against ``latent/items_latent.parquet`` on opening). The one hidden per-request term of the click logit,
the session's **intent item** (``intent`` feature), is in no table: re-running a chunk's ``make_sessions`` with
the chunk's own generator (its first draws of ``child_rng(seed, 100, chunk)``, taken before any request is
simulated) gives every session's intent again (``session_id`` = chunk << 36 + session index). The other
per-request terms come from the written tables: a text query's leaf and attribute words (its id in the pool), a
visual query's embedding (``queries.parquet``), the trigger item of a similar-product search, the user's drifting
taste at the request's time (``weights_at`` / ``style_at`` of ``ts``), and, in data version 2 with
``cross_overlap``, the re-finding bonus of items on the session's last page of the other kind (search vs feed),
rebuilt from the events. What is not reproduced: nothing of the click logit; the platform ranker's noise and the
Bernoulli draws are not needed (they decide what was shown and clicked, not the probability).

P(click | shown) comes from the simulator's own formulas (``clicks.item_features`` / ``linear_score`` /
``click_prob``), written once:

- shown impressions (``items`` [Q, M] with ``position``): ``p_click`` equals ``truth.parquet``
  (:func:`check_truth`);
- the corpus (``items`` [N], one list for every row): ``item_features`` with the candidates [1, N], whose unit
  vector dots are then one matrix product (``clicks._dot``; per-row gathers ``[Q, N, d]`` would take ~20 ms per
  row on 60k items), chunked over rows; equal to the first path up to float32 rounding
  (``tests/simulate/test_truth_scores.py`` compares them).

And the exposure: ``expected_clicks`` replays a request's retrieval and the platform ranker ``draws`` times
(``retrieval.candidates``, ``engine._cross_overlap``, the engine's noisy top-``page_size``) for E[click | request].

Shapes:
    Context: scenario, user, ts, intent, query, trigger [Q]; emb [Q, 64] float32; page [Q, P] (-1 = none) or None
    SimTruth.scores(ctx, items [N]) -> [Q, N] position-free P(click) (float32 in v1, float64 in v2)
    SimTruth.scores(ctx, items [Q, M], position [Q, M]) -> [Q, M] P(click) at those positions (the simulator's code)
    SimTruth.event_contexts(event_ids [E]) -> Context [E]
    SimTruth.entity_scorer(item_ids [N])(event_ids [E]) -> [E, N]
    SimTruth.expected_clicks(ctx, items [N], draws) -> [Q, N] E[click | request] (exposure x click, Monte Carlo)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import yaml
from pydantic import ValidationError

from unisr.simulate.clicks import click_prob, item_features, linear_score
from unisr.simulate.config import written_config
from unisr.simulate.engine import CHUNK_SHIFT, _cross_overlap, _forced
from unisr.simulate.items import IMAGE_DIM
from unisr.simulate.queries import TRIGGER_QUERY_BASE, VISUAL_QUERY_BASE
from unisr.simulate.retrieval import candidates
from unisr.simulate.sampling import F32, child_rng
from unisr.simulate.sessions import make_sessions
from unisr.simulate.world import World, build_world

EVENT_COLUMNS = ("event_id", "ts", "user_id", "scenario_id", "item_id", "query_id", "trigger_item_id",
                 "request_id", "session_id", "position")
ITEM_KINDS = ("search_text", "search_visual", "search_similar", "recommend")  # share panels score users, not items


class TruthError(ValueError):
    """A dataset the simulator cannot score again (not simulated, another world, unknown ids); names the file."""


@dataclass
class Context:
    """What the click logit of a request depends on besides the item (internal simulator indices).

    Shapes:
        scenario, user, ts, intent, query, trigger: [Q] int64 (query: text pool id or -1; trigger: item or -1)
        emb: [Q, 64] float32 (visual queries; zeros elsewhere); page: [Q, P] int64 items (-1 = none) or None
        leaf: [Q] the leaf the request's retrieval sampled from (query's, trigger's, visual classifier's, intent's)
    """

    scenario: np.ndarray
    user: np.ndarray
    ts: np.ndarray
    intent: np.ndarray
    query: np.ndarray
    trigger: np.ndarray
    emb: np.ndarray
    page: np.ndarray | None = None
    leaf: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.scenario)

    def take(self, rows: np.ndarray) -> Context:
        return Context(*(getattr(self, f)[rows] for f in ("scenario", "user", "ts", "intent", "query", "trigger",
                                                          "emb")), *(None if v is None else v[rows]
                                                                     for v in (self.page, self.leaf)))


def _inverse(perm: np.ndarray) -> np.ndarray:
    inv = np.full(int(perm.max(initial=-1)) + 1, -1, np.int64)
    inv[perm] = np.arange(len(perm))
    return inv


def _lookup(table: np.ndarray, ids: np.ndarray, what: str, file: str) -> np.ndarray:
    bad = (ids < 0) | (ids >= len(table))
    out = table[np.where(bad, 0, ids)]
    bad |= out < 0
    if bad.any():
        raise TruthError(f"{file}: {what} {int(ids[np.argmax(bad)])} is not in the simulator's world "
                         f"({int(bad.sum())} such rows)")
    return out


class SimTruth:
    """A written simulated dataset, re-opened for scoring: its world, session intents and request contexts."""

    def __init__(self, root: str | Path, events: bool = True) -> None:
        self.root = Path(root)
        spec_file = self.root / "dataset.yaml"
        if not spec_file.exists():
            raise TruthError(f"{spec_file}: no dataset.yaml")
        meta = (yaml.safe_load(spec_file.read_text()) or {}).get("simulator")
        if not meta or "config" not in meta:
            raise TruthError(f"{spec_file}: no simulator: section (only simulated data can be scored again)")
        try:
            self.cfg = written_config(meta)  # a block without `version` is v1 (not the default, v2)
        except ValidationError as e:
            raise TruthError(f"{spec_file}: simulator.config is not this simulator's config ({e.errors()[0]['loc']}: "
                             f"{e.errors()[0]['msg']})") from e
        self.seed = int(meta.get("seed", 0))
        self.world: World = build_world(self.cfg, self.seed)
        self._check_world()
        cat, users = self.world.cat, self.world.users
        self.item_of_ext = _inverse(cat.ext_id)
        self.user_of_ext = _inverse(users.ext_id)
        self._intents: dict[int, np.ndarray] = {}
        self.ev: dict[str, np.ndarray] | None = self._read_events() if events else None
        self._visual: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._prev_other: np.ndarray | None = None

    # ---- opening
    def _check_world(self) -> None:
        f = self.root / "latent" / "items_latent.parquet"
        if not f.exists():
            return
        t = pq.read_table(f, columns=["item_id", "popularity"])
        cat = self.world.cat
        ok = t.num_rows == cat.n and np.array_equal(t["item_id"].to_numpy(), cat.ext_id) and np.array_equal(
            t["popularity"].to_numpy(), cat.pop)
        if not ok:
            raise TruthError(f"{f}: the world rebuilt from dataset.yaml's simulator config and seed {self.seed} "
                             "differs from this dataset's (another simulator version or CPU?)")

    def _read_events(self) -> dict[str, np.ndarray]:
        t = pq.read_table(self.root / "events.parquet", columns=list(EVENT_COLUMNS))
        ev = {c: t[c].to_numpy(zero_copy_only=False) if t[c].null_count == 0 else
              t[c].fill_null(-1).to_numpy() for c in EVENT_COLUMNS}
        order = np.argsort(ev["event_id"], kind="stable")
        return {c: np.asarray(v[order], np.int64) for c, v in ev.items()}

    def intents(self, chunk: int) -> np.ndarray:
        """The intent item of every session of ``chunk`` (internal ids), by re-running ``make_sessions``."""
        if chunk not in self._intents:
            w = self.world
            per = w.cfg.chunk_users or w.users.n
            users = np.arange(chunk * per, min((chunk + 1) * per, w.users.n))
            if not len(users):
                raise TruthError(f"{self.root / 'events.parquet'}: session chunk {chunk} has no users")
            rng = child_rng(w.seed, 100, chunk)  # the same generator as engine.run_chunk, same first draws
            ses = make_sessions(w, users, rng, _forced(w) if chunk == 0 else None)
            self._intents[chunk] = ses.intent
        return self._intents[chunk]

    def _rows(self, event_ids: np.ndarray) -> np.ndarray:
        assert self.ev is not None, "SimTruth opened without events"
        ids = self.ev["event_id"]
        pos = np.minimum(np.searchsorted(ids, event_ids), len(ids) - 1)
        bad = ids[pos] != event_ids
        if bad.any():
            raise TruthError(f"{self.root / 'events.parquet'}: event_id {int(event_ids[np.argmax(bad)])} not found "
                             f"({int(bad.sum())} ids)")
        return pos

    def _visual_table(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Visual queries: sorted ids, embeddings [V, 64], the leaf the image classifier gave (``category``)."""
        if self._visual is None:
            t = pq.read_table(self.root / "queries.parquet", columns=["query_id", "kind", "emb", "category"])
            m = (t["kind"].to_numpy(zero_copy_only=False) == "visual")
            vt = t.filter(m)
            qid = vt["query_id"].to_numpy()
            emb = vt["emb"].combine_chunks()
            vals = emb.values.to_numpy().astype(F32).reshape(len(qid), -1) if len(qid) else np.zeros((0, IMAGE_DIM), F32)
            cat = self.world.cat
            leaf = vt["category"].fill_null(-1).to_numpy().astype(np.int64) - cat.n1 - cat.n2
            order = np.argsort(qid)
            self._visual = (qid[order], vals[order], leaf[order])
        return self._visual

    def _previous_other_kind(self) -> np.ndarray:
        """For every event row, the request id of the session's last earlier request of the other kind (a feed
        for a search request, a search for a feed request; -1 none): where v2 ``cross_overlap`` took its page."""
        if self._prev_other is None:
            ev = self.ev
            assert ev is not None
            req, first = np.unique(ev["request_id"], return_index=True)
            ses = ev["session_id"][first]
            scen = ev["scenario_id"][first]
            reg = self.world.reg.scenarios
            feed = np.isin(scen, [s.id for s in reg if s.kind == "recommend"])
            search = np.isin(scen, [s.id for s in reg if s.kind in ITEM_KINDS[:3]])
            order = np.lexsort((req, ses))  # requests by session, then request id (= step order in the session)
            out = np.full(len(req), -1, np.int64)
            r_ses = ses[order]
            for is_page, is_user in ((feed, search), (search, feed)):
                idx = np.where(is_page[order], np.arange(len(req)), -1)
                last = np.maximum.accumulate(idx)
                prev = np.concatenate([[-1], last[:-1]])  # strictly earlier
                same = (prev >= 0) & (r_ses[np.maximum(prev, 0)] == r_ses)
                hit = is_user[order] & same
                out[order[hit]] = req[order][prev[hit]]
            self._prev_other = out[np.searchsorted(req, ev["request_id"])]
        return self._prev_other

    def _kind(self, scenario: int) -> str:
        sc = self.world.reg.by_id.get(scenario)
        if sc is None:
            raise TruthError(f"{self.root / 'dataset.yaml'}: scenario_id {scenario} is not a simulator scenario")
        return sc.kind

    def _pages(self, requests: np.ndarray) -> np.ndarray:
        """[R, P] internal items shown in the sorted distinct ``requests`` (by position; -1 = none / no request)."""
        ev = self.ev
        assert ev is not None
        out = np.full((len(requests), self.cfg.scenarios.page_size), -1, np.int64)
        m = np.isin(ev["request_id"], requests[requests >= 0])
        row = np.searchsorted(requests, ev["request_id"][m])
        out[row, ev["position"][m]] = self.item_of_ext[ev["item_id"][m]]
        return out

    # ---- contexts
    def event_contexts(self, event_ids: np.ndarray) -> Context:
        """The request context of each event (events of item scenarios; a share event is an error)."""
        ev = self.ev
        assert ev is not None, "SimTruth opened without events"
        r = self._rows(np.asarray(event_ids, np.int64))
        scen = ev["scenario_id"][r]
        kinds = {int(s): self._kind(int(s)) for s in np.unique(scen)}
        share = [s for s, k in kinds.items() if k == "share"]
        if share:
            raise TruthError(f"{self.root / 'events.parquet'}: scenario {share[0]} is a share panel (scores users)")
        sid = ev["session_id"][r]
        chunk, local = sid >> CHUNK_SHIFT, sid & ((1 << CHUNK_SHIFT) - 1)
        intent = np.empty(len(r), np.int64)
        for c in np.unique(chunk):
            m = chunk == c
            intent[m] = _lookup(self.intents(int(c)), local[m], "session index", "events.parquet session_id")
        qid = ev["query_id"][r]
        text = (qid >= 0) & (qid < VISUAL_QUERY_BASE)
        emb = np.zeros((len(r), IMAGE_DIM), F32)
        vis = (qid >= VISUAL_QUERY_BASE) & (qid < TRIGGER_QUERY_BASE)
        cat = self.world.cat
        leaf = cat.leaf[intent]  # feeds: the intent's leaf (their retrieval sources do not use it)
        leaf = np.where(text, np.maximum(qid, 0) // self.world.pool.q, leaf)
        if vis.any():
            vq, ve, vl = self._visual_table()
            pos = np.minimum(np.searchsorted(vq, qid[vis]), max(len(vq) - 1, 0))
            if not len(vq) or (vq[pos] != qid[vis]).any():
                raise TruthError(f"{self.root / 'queries.parquet'}: a visual query_id of the events has no row")
            emb[vis] = ve[pos]
            leaf[vis] = vl[pos]
        trig_ext = ev["trigger_item_id"][r]
        trigger = np.where(trig_ext >= 0, self.item_of_ext[np.maximum(trig_ext, 0)], -1)
        leaf = np.where(trigger >= 0, cat.leaf[np.maximum(trigger, 0)], leaf)
        page = None
        if self.cfg.strength("cross_overlap") > 0:
            prev = self._previous_other_kind()[r]
            uniq, inv = np.unique(prev, return_inverse=True)
            page = self._pages(uniq)[inv]
        return Context(scenario=scen, user=_lookup(self.user_of_ext, ev["user_id"][r], "user_id", "events.parquet"),
                       ts=ev["ts"][r], intent=intent, query=np.where(text, qid, -1), trigger=trigger, emb=emb,
                       page=page, leaf=leaf)

    def items_of(self, item_ids: np.ndarray) -> np.ndarray:
        """Internal item indices of public ``item_id``s."""
        return _lookup(self.item_of_ext, np.asarray(item_ids, np.int64), "item_id", "items.parquet")

    def entity_scorer(self, item_ids: np.ndarray, exposure: bool = False, draws: int = 128, seed: int = 0
                      ) -> Callable[[np.ndarray], np.ndarray]:
        """``event_ids [E] -> [E, N]`` over the items ``item_ids`` (public ids, e.g. an encoder's entity order) in
        each event's request context: the position-free P(click) (what ``evaluate.retrieval_oracle`` ranks by), or
        with ``exposure`` the expected clicks ``expected_clicks`` (ties, items never shown in the draws, broken
        by the position-free P(click))."""
        items = self.items_of(item_ids)
        if not exposure:
            return lambda event_ids: self.scores(self.event_contexts(event_ids), items)

        def score(event_ids: np.ndarray) -> np.ndarray:
            ctx = self.event_contexts(event_ids)
            return self.expected_clicks(ctx, items, draws, seed) + 1e-9 * self.scores(ctx, items)

        return score

    def expected_clicks(self, ctx: Context, items: np.ndarray, draws: int = 128, seed: int = 0,
                        chunk: int = 64) -> np.ndarray:
        """E[click on item | request context] [Q, N] = sum_k P(item shown at k) P(click at k), by Monte Carlo over
        the simulator's own retrieval (``retrieval.candidates``, v2 ``cross_overlap`` with the context's page) and
        platform ranker (0.5 score + N(0, 1), top ``page_size``), ``draws`` replicas of each request. This is what a
        row's clicks are drawn from, so ranking by it maximises the expected hits; the standard error of an
        item's value is at most 0.5 / sqrt(draws) times its click probability."""
        w, cfg = self.world, self.cfg
        items = np.asarray(items, np.int64)
        col = np.full(w.cat.n, -1, np.int64)
        col[items] = np.arange(len(items))
        out = np.zeros((len(ctx), len(items)), np.float64)
        rng = child_rng(seed, 7001)
        K = cfg.scenarios.page_size
        for s in np.unique(ctx.scenario):
            rows = np.flatnonzero(ctx.scenario == s)
            sc = w.reg.by_id[int(s)]
            if sc.kind == "share":
                raise TruthError(f"scenario {sc.name}: a share panel scores users, not items")
            source = sc.kind if sc.kind != "recommend" else ("feed_new" if sc.name == "feed_new" else "feed")
            for a in range(0, len(rows), chunk):
                rr = rows[a:a + chunk]
                rep = np.repeat(rr, draws)
                c = ctx.take(rep)
                assert c.leaf is not None
                cand, valid = candidates(w, source, c.user, c.ts, c.leaf, rng)
                seen = None
                if c.page is not None:
                    cand, valid, seen = _cross_overlap(w, sc.kind, np.arange(len(rep)), c.ts, cand, valid,
                                                       {"feed": c.page, "search": c.page})
                x = item_features(w, sc.kind, set(sc.weights) | {"intent"}, c.user, c.ts, c.intent, cand,
                                  self._query(sc.kind, c))
                score = linear_score(x, sc.weights, cfg.clicks.scale)
                if seen is not None:
                    score = score + np.float32(self._refind()) * seen.astype(F32)
                eng = np.where(valid, 0.5 * score + rng.normal(0, 1.0, score.shape), -np.inf)
                kk = min(K, cand.shape[1])
                order = np.argsort(-eng, axis=1, kind="stable")[:, :kk]
                item = np.take_along_axis(cand, order, 1)
                ok = np.take_along_axis(valid, order, 1)
                pos = np.broadcast_to(np.arange(kk, dtype=np.int64), item.shape)
                p = click_prob(sc.base, np.take_along_axis(score, order, 1), pos, sc.position_bias, cfg.exact)
                cc = col[item]
                m = ok & (cc >= 0)
                rq = np.broadcast_to(rep[:, None], item.shape)
                np.add.at(out, (rq[m], cc[m]), np.asarray(p, np.float64)[m] / draws)
        return out

    # ---- scoring
    def _query(self, kind: str, ctx: Context) -> dict[str, np.ndarray]:
        pool = self.world.pool
        if kind == "search_text":
            if (ctx.query < 0).any():
                raise TruthError("search_text context without a text query")
            return {"leaf": ctx.query // pool.q, "attrs": pool.attrs.reshape(-1, 2)[ctx.query]}
        if kind == "search_visual":
            return {"emb": ctx.emb}
        if kind == "search_similar":
            if (ctx.trigger < 0).any():
                raise TruthError("search_similar context without a trigger item")
            return {"trigger": ctx.trigger}
        return {}

    def scores(self, ctx: Context, items: np.ndarray, position: np.ndarray | None = None, chunk: int = 64
               ) -> np.ndarray:
        """P(click) of ``items`` in each row's context: ``items`` [N] (one list for every row, position-free: the
        fast path) -> [Q, N]; ``items`` [Q, M] with ``position`` [Q, M] (or None = 0) -> [Q, M] through the
        simulator's own code (equal to ``truth.parquet`` on shown impressions)."""
        items = np.asarray(items, np.int64)
        shared = items.ndim == 1
        dtype = np.float64 if self.cfg.exact else F32
        out = np.empty((len(ctx), len(items) if shared else items.shape[1]), dtype)
        for s in np.unique(ctx.scenario):
            rows = np.flatnonzero(ctx.scenario == s)
            sc = self.world.reg.by_id[int(s)]
            if sc.kind == "share":
                raise TruthError(f"scenario {sc.name}: a share panel scores users, not items")
            step = chunk if shared else max(chunk, 1 << 16)
            for a in range(0, len(rows), step):
                rr = rows[a:a + step]
                c = ctx.take(rr)
                if shared:
                    out[rr] = self._corpus_probs(sc, c, items)
                else:
                    pos = np.zeros(items[rr].shape, np.int64) if position is None else np.asarray(position[rr])
                    out[rr] = self._shown_probs(sc, c, items[rr], pos)
        return out

    def _shown_probs(self, sc, c: Context, cand: np.ndarray, pos: np.ndarray) -> np.ndarray:  # noqa: ANN001
        w = self.world
        x = item_features(w, sc.kind, set(sc.weights) | {"intent"}, c.user, c.ts, c.intent, cand,
                          self._query(sc.kind, c))
        score = linear_score(x, sc.weights, w.cfg.clicks.scale)
        if c.page is not None and sc.kind in ITEM_KINDS:
            seen = ((cand[:, :, None] == c.page[:, None, :]) & (c.page[:, None, :] >= 0)).any(-1)
            score = score + np.float32(self._refind()) * seen.astype(F32)
        return click_prob(sc.base, score, pos, sc.position_bias, w.cfg.exact)

    def _refind(self) -> float:
        return self.cfg.mechanisms.cross_overlap.refind * self.cfg.strength("cross_overlap")

    def _corpus_probs(self, sc, c: Context, items: np.ndarray) -> np.ndarray:  # noqa: ANN001
        x = item_features(self.world, sc.kind, set(sc.weights), c.user, c.ts, c.intent, items[None, :],
                          self._query(sc.kind, c))  # one candidate list shared by the rows: [Q, N]
        score = np.broadcast_to(linear_score(x, sc.weights, self.cfg.clicks.scale), (len(c), len(items)))
        if c.page is not None:
            col = np.full(self.world.cat.n, -1, np.int64)
            col[items] = np.arange(len(items))
            cols = np.where(c.page >= 0, col[np.maximum(c.page, 0)], -1)
            r, k = np.nonzero(cols >= 0)
            bonus = np.zeros(score.shape, F32)
            bonus[r, cols[r, k]] = 1.0
            score = score + np.float32(self._refind()) * bonus
        z = sc.base + (score.astype(np.float64) if self.cfg.exact else score)
        return 1.0 / (1.0 + np.exp(-z)) if self.cfg.exact else (1.0 / (1.0 + np.exp(-z))).astype(F32)


def check_truth(truth: SimTruth, per_scenario: int = 2000, seed: int = 0) -> dict[str, dict[str, float]]:
    """Re-score a sample of shown impressions of every item scenario (``per_scenario`` events each) at their
    real position and without it, against ``truth.parquet``'s ``p_click`` / ``p_click_no_position``: the largest
    absolute differences per scenario (0 up to float32 rounding when the rebuild is exact)."""
    ev = truth.ev
    assert ev is not None
    t = pq.read_table(truth.root / "truth.parquet")
    tid = t["event_id"].to_numpy()
    order = np.argsort(tid)
    p_all = t["p_click"].to_numpy()[order]
    p0_all = t["p_click_no_position"].to_numpy()[order] if "p_click_no_position" in t.column_names else None
    rng = np.random.default_rng(seed)
    out: dict[str, dict[str, float]] = {}
    for s in np.unique(ev["scenario_id"]):
        sc = truth.world.reg.by_id[int(s)]
        if sc.kind == "share":
            continue
        rows = np.flatnonzero(ev["scenario_id"] == s)
        rows = np.sort(rng.choice(rows, min(per_scenario, len(rows)), replace=False))
        ids = ev["event_id"][rows]
        ctx = truth.event_contexts(ids)
        item = truth.items_of(ev["item_id"][rows])[:, None]
        p = truth.scores(ctx, item, ev["position"][rows][:, None])[:, 0].astype(F32)
        p0 = truth.scores(ctx, item)[:, 0].astype(F32)
        fast = truth.scores(ctx, np.unique(item[:, 0]))  # the corpus path on the same items
        fast = fast[np.arange(len(rows)), np.searchsorted(np.unique(item[:, 0]), item[:, 0])]
        k = np.searchsorted(tid[order], ids)
        res = {"n": float(len(rows)), "max_abs_p_click": float(np.abs(p - p_all[k]).max()),
               "max_abs_corpus_vs_simulator": float(np.abs(fast - p0).max())}
        if p0_all is not None:
            res["max_abs_p_click_no_position"] = float(np.abs(p0 - p0_all[k]).max())
        out[sc.name] = res
    return out
