"""SRJGraph's forward multi-order neighbour sampling (target-aware, with category filtering; eqs. 5-6).

For a target ``(u, q, p)``: a user node's item neighbours are restricted to the category of the target item
``p`` (category filtering by binary search over the user's click row, which is sorted by item category); an item node's user neighbours are
uniform. The target's own click edges ``(u, p)`` (and their reverse ``(p, u)``) are never sampled, at any
hop (``exclude_target_edge``, default on): a training row's click is in the graph, and sampling it would leak
the label. Every sampled node records its direct precursor and the query on the edge to it (0 = the empty
query of recommendation), and the neighbours of one precursor are ordered by click time.

Given the targets' times (``sample(..., ts=...)``), every hop keeps only click edges made strictly before
the target's time: the graph as of the impression. A training-window event then sees the same kind of
neighbourhood as a valid/test event (whose graph is entirely in its past); without it, about half of a training
search user's sampled clicks lay after the impression (the same request's clicks included), a signal that
does not exist at test time.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from unisr.graph.build import ITEM_CLICKED_BY, USER_CLICK
from unisr.graph.samplers._kernels import fused_hop
from unisr.graph.samplers.blocks import EMPTY_BOOL, EMPTY_I64, Blocks, HopOut, as_index
from unisr.graph.store import HeteroGraph

_OTHER = {"user": "item", "item": "user"}


class TargetAwareSampler:
    """K-order sampling around the target's user and item (defaults: [25, 1, 10] and [1, 25, 1])."""

    def __init__(self, graph: HeteroGraph, user_widths: Sequence[int] = (25, 1, 10),
                 item_widths: Sequence[int] = (1, 25, 1), category_filter: bool = True,
                 exclude_target_edge: bool = True) -> None:
        if any(w < 1 for w in (*user_widths, *item_widths)):
            raise ValueError("widths must be >= 1")
        self.graph = graph
        self.user_widths = list(user_widths)
        self.item_widths = list(item_widths)
        self.category_filter = category_filter
        self.exclude_target_edge = exclude_target_edge
        self.fwd = graph.rel(USER_CLICK)
        self.rev = graph.rel(ITEM_CLICKED_BY)
        self.item_cat = np.ascontiguousarray(graph.item_category, dtype=np.int32)
        if self.category_filter and len(self.item_cat) < self.fwd.num_dst:
            raise ValueError("item_category must cover every item for category filtering")
        # the click edges' item categories aligned with the edges (a sampler-side cache, not stored in the
        # graph): the category filter then bisects one small array per row instead of item_cat[indices[.]]
        self.edge_cat = None
        if self.category_filter and self.fwd.num_edges:
            cmin, cmax = int(self.item_cat.min()), int(self.item_cat.max())
            dt = np.int8 if -128 <= cmin and cmax <= 127 else np.int16 if -2**15 <= cmin and cmax < 2**15 else np.int32
            self.edge_cat = self.item_cat[self.fwd.indices].astype(dt)
        self.fwd_query = np.asarray(self.fwd.attrs["query"])
        self.fwd_ts = np.asarray(self.fwd.attrs["ts"])
        self.rev_eid = np.asarray(self.rev.attrs["eid"])
        self.rev_ts = self.fwd_ts[self.rev_eid]  # reverse rows are sorted by ts (graph.build)
        self.ts_base = int(graph.meta.get("ts_base", 0))  # edge ts are relative to it
        self._by_ts: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def _fwd_by_ts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Click rows re-sorted by ts alone (indices, original edge id, ts): with the category filter off a
        row (sorted by category, then ts) is not time-ordered, which the time bound's bisection needs."""
        if self._by_ts is None:
            row = np.repeat(np.arange(self.fwd.num_src), np.diff(np.asarray(self.fwd.indptr)))
            perm = np.lexsort((self.fwd_ts, row))
            self._by_ts = (np.asarray(self.fwd.indices)[perm], perm, self.fwd_ts[perm])
        return self._by_ts

    def _walk(self, start_type: str, seeds: np.ndarray, users: np.ndarray, items: np.ndarray, cats: np.ndarray,
              widths: list[int], seed: int, salt: int, ts: np.ndarray | None) -> Blocks:
        b = len(seeds)
        types, ets = [], []
        t = start_type
        for _ in widths:
            t = _OTHER[t]
            types.append(t)
            ets.append(USER_CLICK if t == "item" else ITEM_CLICKED_BY)
        blocks = Blocks(seeds=torch.from_numpy(seeds.copy()), node_types=types, edge_types=ets,
                        fanouts=list(widths), extra={"query": [], "ts": []})
        frontier, fmask, width = seeds, EMPTY_BOOL, 1
        ex = self.exclude_target_edge
        for k, w in enumerate(widths):
            out = HopOut(b, width * w, extras=2)
            nodes, mask, pre, eid, q, t_out = out.flat()
            if types[k] == "item" and ts is not None and not self.category_filter:  # time-sorted rows
                ind, perm, ts_sorted = self._fwd_by_ts()
                cnt = fused_hop(self.fwd.indptr, ind, frontier, fmask, width, w, seed, salt * 16 + k,
                                EMPTY_I64, EMPTY_I64, users if ex else EMPTY_I64, items if ex else EMPTY_I64, perm,
                                self.fwd_query, self.fwd_ts, nodes, mask, pre, eid, q, t_out, edge_ts=ts_sorted,
                                seed_ts=ts)
                eid[eid >= 0] = perm[eid[eid >= 0]]  # back to forward edge ids
            elif types[k] == "item":  # user -> items of the target's category
                cat_args = (self.item_cat, cats) if self.category_filter else (EMPTY_I64, EMPTY_I64)
                cnt = fused_hop(self.fwd.indptr, self.fwd.indices, frontier, fmask, width, w, seed, salt * 16 + k,
                                *cat_args, users if ex else EMPTY_I64, items if ex else EMPTY_I64, EMPTY_I64,
                                self.fwd_query, self.fwd_ts, nodes, mask, pre, eid, q, t_out,
                                edge_cat=self.edge_cat, edge_ts=self.fwd_ts, seed_ts=ts)
            else:  # item -> users, uniform; attributes of the forward click edge
                cnt = fused_hop(self.rev.indptr, self.rev.indices, frontier, fmask, width, w, seed, salt * 16 + k,
                                EMPTY_I64, EMPTY_I64, items if ex else EMPTY_I64, users if ex else EMPTY_I64,
                                self.rev_eid, self.fwd_query, self.fwd_ts, nodes, mask, pre, eid, q, t_out,
                                edge_ts=self.rev_ts, seed_ts=ts)
            out.append_to(blocks, cnt)
            blocks.extra["query"].append(out.extras[0])
            blocks.extra["ts"].append(out.extras[1])
            frontier, fmask, width = nodes, mask, width * w
        return blocks

    def sample(self, users: Tensor | np.ndarray, items: Tensor | np.ndarray, seed: int = 0,
               ts: Tensor | np.ndarray | None = None) -> tuple[Blocks, Blocks]:
        """Shapes: users [B], items [B] (the targets' entity indices), ts [B] (the targets' event times, in
        the events' unit; None: no time bound) -> (user-side, item-side) Blocks.

        ``edge`` of an item hop is the ``(user, click, item)`` edge id; of a user hop the
        ``(item, rev_click, user)`` edge id. ``extra['query']``/``extra['ts']`` are those of the click edge.
        """
        u, p = as_index(users), as_index(items)
        if len(u) != len(p):
            raise ValueError("users and items must have the same length")
        safe = np.clip(p, 0, len(self.item_cat) - 1)
        cats = np.where((p >= 0) & (p < len(self.item_cat)), self.item_cat[safe], -2).astype(np.int64)
        t = None if ts is None else np.ascontiguousarray(as_index(ts) - self.ts_base, dtype=np.int64)
        if t is not None and len(t) != len(u):
            raise ValueError("ts must have one entry per target")
        return (self._walk("user", u, u, p, cats, self.user_widths, seed, 1, t),
                self._walk("item", p, u, p, cats, self.item_widths, seed, 2, t))

    def subgraph(self, users: Tensor | np.ndarray, items: Tensor | np.ndarray, seed: int = 0,
                 ts: Tensor | np.ndarray | None = None) -> dict[str, Tensor]:
        """``Batch.subgraph`` entries ``srj_user.*`` and ``srj_item.*``."""
        ub, ib = self.sample(users, items, seed, ts)
        return {**ub.to_subgraph("srj_user"), **ib.to_subgraph("srj_item")}
