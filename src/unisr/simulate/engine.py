"""One chunk of users -> their sessions -> requests -> exposures -> clicks and conversions.

Steps of all sessions of a chunk are processed together (a loop over <= max_requests steps, vectorised
over sessions), so a similar-product search at step k can take as trigger the item clicked at step k-1.

Shapes:
    per step: sessions S -> requests R -> candidates [R, M] -> shown [R, K] -> event columns [N]
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from unisr.simulate.clicks import click_prob, conversion_prob, item_features, linear_score
from unisr.simulate.items import IMAGE_DIM
from unisr.simulate.queries import TRIGGER_QUERY_BASE, VISUAL_QUERY_BASE, choose_text_query
from unisr.simulate.retrieval import candidates
from unisr.simulate.sampling import F32, child_rng, dedupe_rows, sample_in_ranges, unit_rows
from unisr.simulate.sessions import Sessions, make_sessions
from unisr.simulate.share import share_panels
from unisr.simulate.world import World

COLUMNS = ("ts", "user", "scenario", "item", "click", "query", "trigger", "target", "request", "session",
           "position", "conversion", "p_click", "p_conv", "p_click0")


@dataclass
class Counters:
    """Running id counter of visual queries inside a chunk."""

    visual: int = 0


@dataclass
class ChunkResult:
    events: dict[str, np.ndarray]  # COLUMNS, internal indices; -1 = null
    visual_ids: np.ndarray
    visual_emb: np.ndarray
    visual_leaf: np.ndarray
    trigger_items: np.ndarray  # internal ids used as triggers
    share_clicks: tuple[np.ndarray, np.ndarray, np.ndarray]  # src, dst, ts (internal users)
    parts: list[dict[str, np.ndarray]] = field(default_factory=list)
    n_requests: int = 0
    n_sessions: int = 0

    @property
    def n_events(self) -> int:
        return len(self.events["ts"])


def _forced(world: World) -> list[tuple[int, int]]:
    """One-request sessions that make sure every scenario appears at least ``min_requests`` times."""
    reg, n = world.reg, world.cfg.scenarios.min_requests
    out: list[tuple[int, int]] = []
    for s in reg.scenarios:
        leaf = int(np.searchsorted(reg.share_ids, s.id)) if s.kind == "share" else 0
        out += [(s.group, leaf)] * n
    return out


def _cross_overlap(
    world: World, kind: str, sel: np.ndarray, ts: np.ndarray, cand: np.ndarray, valid: np.ndarray,
    last_page: dict[str, np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """v2 ``cross_overlap``: the last candidate slots of a search request take the top items of the session's
    last feed page (see-then-search), those of a feed request the top of its last search page; returns the
    candidates, their validity and ``seen`` [R, M] (the item was on that other page: the re-finding bonus)."""
    s = world.cfg.strength("cross_overlap")
    n = int(round(world.cfg.mechanisms.cross_overlap.slots * s))
    page = last_page["feed" if kind != "recommend" else "search"][sel]  # [R, P], -1 = none
    rows = np.nonzero((page >= 0).any(1))[0]  # sessions that saw a page of the other kind (the others: as is)
    seen = np.zeros(cand.shape, bool)
    if len(rows) == 0:
        return cand, valid, seen
    c, pg = cand[rows], page[rows]
    if n > 0:
        c[:, -n:] = np.where(pg[:, :n] >= 0, pg[:, :n], c[:, -n:])
        cand, valid = cand.copy(), valid.copy()
        cand[rows] = c
        valid[rows] = dedupe_rows(c) & (world.cat.created[c] <= ts[rows, None])
    seen[rows] = ((c[:, :, None] == pg[:, None, :]) & (pg[:, None, :] >= 0)).any(-1)
    return cand, valid, seen


def _item_block(
    world: World, ses: Sessions, sel: np.ndarray, k: int, grp: int, last_click: np.ndarray,
    counters: Counters, res: ChunkResult, rng: np.random.Generator, last_page: dict[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    cfg, cat, reg = world.cfg, world.cat, world.reg
    sc = next(s for s in reg.scenarios if s.group == grp)
    user, ts, intent = ses.user[sel], ses.ts[sel, k], ses.intent[sel]
    R = len(sel)
    query_id = np.full(R, -1, np.int64)
    trigger = np.full(R, -1, np.int64)
    q: dict[str, np.ndarray] = {}
    leaf = cat.leaf[intent]
    source = "feed"
    if sc.kind == "search_text":
        qid = choose_text_query(world.pool, cat, intent, rng)
        query_id = qid
        q = {"leaf": qid // world.pool.q, "attrs": world.pool.attrs.reshape(-1, 2)[qid]}
        leaf = q["leaf"]
        source = sc.kind
    elif sc.kind == "search_visual":
        noise = cfg.clicks.query_noise * rng.standard_normal((R, IMAGE_DIM), dtype=F32) / np.sqrt(IMAGE_DIM)
        emb = unit_rows(cat.image[intent] + noise)
        b3 = cat.n_leaf // cat.n2
        wrong = rng.random(R) < 0.1  # the image classifier picks a sibling leaf
        leaf = np.where(wrong, (leaf // b3) * b3 + rng.integers(0, b3, R), leaf)
        query_id = VISUAL_QUERY_BASE + counters.visual + np.arange(R)
        counters.visual += R
        res.parts.append({"vid": query_id, "vemb": emb, "vleaf": leaf})
        q = {"emb": emb}
        source = sc.kind
    elif sc.kind == "search_similar":
        near = sample_in_ranges(cat.pop_cum, cat.leaf_start[leaf], cat.leaf_start[leaf + 1], rng)
        trigger = np.where(last_click[sel] >= 0, last_click[sel], near)
        query_id = TRIGGER_QUERY_BASE + cat.ext_id[trigger]
        res.parts.append({"trig": trigger})
        q = {"trigger": trigger}
        leaf = cat.leaf[trigger]
        source = sc.kind
    elif sc.name == "feed_new":
        source = "feed_new"
    cand, valid = candidates(world, source, user, ts, leaf, rng)
    seen = None
    if last_page is not None:
        cand, valid, seen = _cross_overlap(world, sc.kind, sel, ts, cand, valid, last_page)
    needed = set(sc.weights) | {"intent"}
    x = item_features(world, sc.kind, needed, user, ts, intent, cand, q)
    score = linear_score(x, sc.weights, cfg.clicks.scale)
    if seen is not None:  # re-finding: an item met on the other kind's last page is more likely clicked
        bonus = cfg.mechanisms.cross_overlap.refind * cfg.strength("cross_overlap")
        score = score + np.float32(bonus) * seen.astype(F32)
    # the platform's ranker: knows the true score up to noise
    eng = np.where(valid, 0.5 * score + rng.normal(0, 1.0, score.shape), -np.inf)
    K = min(cfg.scenarios.page_size, cand.shape[1])
    order = np.argsort(-eng, axis=1, kind="stable")[:, :K]  # stable: the same ties order on every numpy and CPU
    item = np.take_along_axis(cand, order, axis=1)
    ok = np.take_along_axis(valid, order, axis=1)
    s_k = np.take_along_axis(score, order, axis=1)
    pos = np.broadcast_to(np.arange(K, dtype=np.int64), (R, K))
    ex = cfg.exact
    p = click_prob(sc.base, s_k, pos, sc.position_bias, ex)
    p0 = click_prob(sc.base, s_k, pos, 0.0, ex)  # the same logit without the position term (truth only)
    intent_x = np.take_along_axis(x["intent"], order, axis=1)
    rel_k = np.take_along_axis(x["rel"], order, axis=1) if "rel" in x else None
    pc = conversion_prob(world, user[:, None], item, intent_x, sc.kind == "recommend", rel_k)
    # v2: float64 uniforms against float64 probabilities from exact arithmetic (the same on every CPU)
    click = rng.random(p.shape, dtype=np.float64 if ex else F32) < p
    conv = click & (rng.random(p.shape, dtype=np.float64 if ex else F32) < pc)
    # the first clicked item becomes the trigger of a later similar-product search in the session
    clicked_any = (click & ok).any(axis=1)
    first = np.argmax(click & ok, axis=1)
    last_click[sel[clicked_any]] = item[clicked_any, first[clicked_any]]
    if last_page is not None:  # the page this session saw last, per kind (v2 cross_overlap)
        last_page["feed" if sc.kind == "recommend" else "search"][sel, :K] = np.where(ok, item, -1)
    rows, cols = np.nonzero(ok)
    return {
        "ts": ts[rows],
        "user": user[rows],
        "scenario": np.full(len(rows), sc.id, np.int64),
        "item": item[rows, cols],
        "click": click[rows, cols],
        "query": query_id[rows],
        "trigger": trigger[rows],
        "target": np.full(len(rows), -1, np.int64),
        "request": rows,
        "session": sel[rows],
        "position": pos[rows, cols],
        "conversion": conv[rows, cols],
        "p_click": p[rows, cols].astype(F32),  # drawn above in float64 (v2); stored as written (float32)
        "p_conv": pc[rows, cols].astype(F32),
        "p_click0": p0[rows, cols].astype(F32),
    }


def _share_block(
    world: World, ses: Sessions, sel: np.ndarray, k: int, last_click: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    user, ts = ses.user[sel], ses.ts[sel, k]
    item = np.where(last_click[sel] >= 0, last_click[sel], ses.intent[sel])
    leaf_idx = ses.share_leaf[sel]
    panel = share_panels(world, user, ts, item, leaf_idx, rng)
    click = rng.random(panel.p_click.shape, dtype=np.float64 if world.cfg.exact else F32) < panel.p_click
    rows, cols = np.nonzero(panel.valid)
    n = len(rows)
    return {
        "ts": ts[rows],
        "user": user[rows],
        "scenario": world.reg.share_ids[leaf_idx][rows],
        "item": item[rows],
        "click": click[rows, cols],
        "query": np.full(n, -1, np.int64),
        "trigger": np.full(n, -1, np.int64),
        "target": panel.target[rows, cols],
        "request": rows,
        "session": sel[rows],
        "position": panel.position[rows, cols],
        "conversion": np.zeros(n, bool),
        "p_click": panel.p_click[rows, cols].astype(F32),
        "p_conv": np.zeros(n, F32),
        "p_click0": panel.p_click_no_position[rows, cols].astype(F32),
    }


CHUNK_SHIFT = 36  # ids of chunk c start at c << 36 (dense 0..n-1 for a single-chunk dataset)


def run_chunk(world: World, chunk: int, chunk_users: np.ndarray) -> ChunkResult:
    """Simulate one chunk of users. Independent of every other chunk (own seed, own id range)."""
    rng = child_rng(world.seed, 100, chunk)
    forced = _forced(world) if chunk == 0 else None
    ses = make_sessions(world, chunk_users, rng, forced)
    base = chunk << CHUNK_SHIFT
    counters = Counters(visual=chunk << 28)
    res = ChunkResult({}, np.zeros(0, np.int64), np.zeros((0, IMAGE_DIM), F32), np.zeros(0, np.int64),
                      np.zeros(0, np.int64), (np.zeros(0, np.int64),) * 3)
    last_click = np.full(ses.n, -1, np.int64)
    P = world.cfg.scenarios.page_size
    last_page = ({"feed": np.full((ses.n, P), -1, np.int64), "search": np.full((ses.n, P), -1, np.int64)}
                 if world.cfg.strength("cross_overlap") > 0 else None)
    blocks: list[dict[str, np.ndarray]] = []
    req_ts: list[np.ndarray] = []
    n_req = 0
    for k in range(ses.group.shape[1]):
        active = np.nonzero(ses.group[:, k] >= 0)[0]
        if len(active) == 0:
            break
        g = ses.group[active, k]
        for grp in np.unique(g):
            sel = active[g == grp]
            if grp == world.reg.share_group:
                b = _share_block(world, ses, sel, k, last_click, rng)
            else:
                b = _item_block(world, ses, sel, k, int(grp), last_click, counters, res, rng, last_page)
            b["request"] = b["request"] + n_req
            req_ts.append(ses.ts[sel, k])
            n_req += len(sel)
            blocks.append(b)
    # the blocks' events are grouped by request (in request order, positions ascending); order the requests by
    # time: each event's place in the output is computed first and every column is scattered there once
    # (one pass per column instead of a concatenation and a gather: the same arrays, fewer bytes moved)
    request = np.concatenate([b["request"] for b in blocks])
    counts = np.bincount(request, minlength=n_req)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    req_order = np.argsort(np.concatenate(req_ts), kind="stable")
    c_sorted = counts[req_order]
    rank = np.empty(n_req, np.int64)
    rank[req_order] = np.arange(n_req)
    new_start = np.cumsum(c_sorted) - c_sorted  # output offset of each time-ordered request
    dest = new_start[rank[request]] + (np.arange(len(request)) - starts[request])
    ev = {}
    for c in COLUMNS:
        out = np.empty(len(request), np.result_type(*[b[c].dtype for b in blocks]))  # as np.concatenate
        lo = 0
        for b in blocks:
            n = len(b[c])
            out[dest[lo:lo + n]] = b[c]
            lo += n
        ev[c] = out
    new_req = np.repeat(np.arange(n_req), c_sorted)
    ev["request"] = base + new_req
    ev["session"] = base + ev["session"]
    ev["event"] = base + np.arange(len(request), dtype=np.int64)
    res.events = ev
    res.n_requests, res.n_sessions = n_req, ses.n
    vparts = [p for p in res.parts if "vid" in p]
    if vparts:
        res.visual_ids = np.concatenate([p["vid"] for p in vparts])
        res.visual_emb = np.concatenate([p["vemb"] for p in vparts])
        res.visual_leaf = np.concatenate([p["vleaf"] for p in vparts])
    tparts = [p["trig"] for p in res.parts if "trig" in p]
    if tparts:
        res.trigger_items = np.unique(np.concatenate(tparts))
    res.parts = []
    is_share = (ev["target"] >= 0) & ev["click"]
    res.share_clicks = (ev["user"][is_share], ev["target"][is_share], ev["ts"][is_share])
    return res
