"""SRJGraph's forward multi-order neighbour sampling (target-aware, with category filtering; eqs. 5-6).

For a target ``(u, q, p)``: a user node's item neighbours are restricted to the category of the target item
``p`` (category filtering through the graph's per-user category index); an item node's user neighbours are
uniform. Every sampled node records its direct precursor and the query on the edge to it (0 = the empty
query of recommendation), and the neighbours of one precursor are ordered by click time.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from unisr.graph.build import ITEM_CLICKED_BY, USER_CLICK
from unisr.graph.samplers._kernels import category_segments
from unisr.graph.samplers.blocks import Blocks, as_index, finish_hop, hop
from unisr.graph.store import HeteroGraph

_OTHER = {"user": "item", "item": "user"}


class TargetAwareSampler:
    """K-order sampling around the target's user and item (defaults: [25, 1, 10] and [1, 25, 1])."""

    def __init__(self, graph: HeteroGraph, user_widths: Sequence[int] = (25, 1, 10),
                 item_widths: Sequence[int] = (1, 25, 1), category_filter: bool = True) -> None:
        if any(w < 1 for w in (*user_widths, *item_widths)):
            raise ValueError("widths must be >= 1")
        self.graph = graph
        self.user_widths = list(user_widths)
        self.item_widths = list(item_widths)
        self.category_filter = category_filter
        self.fwd = graph.rel(USER_CLICK)
        self.rev = graph.rel(ITEM_CLICKED_BY)
        self.cat_index = graph.category_index[USER_CLICK]
        self.item_cat = np.asarray(graph.item_category, dtype=np.int64)

    def _walk(self, start_type: str, seeds: np.ndarray, cats: np.ndarray, widths: list[int], seed: int,
              salt: int) -> Blocks:
        b = len(seeds)
        types, ets = [], []
        t = start_type
        for _ in widths:
            t = _OTHER[t]
            types.append(t)
            ets.append(USER_CLICK if t == "item" else ITEM_CLICKED_BY)
        blocks = Blocks(seeds=torch.from_numpy(seeds.copy()), node_types=types, edge_types=ets,
                        fanouts=list(widths), extra={"query": [], "ts": []})
        frontier = seeds
        row_cat = cats  # target category per frontier slot
        fwd_query = np.asarray(self.fwd.attrs["query"])
        fwd_ts = np.asarray(self.fwd.attrs["ts"])
        rev_eid = np.asarray(self.rev.attrs["eid"])
        for k, w in enumerate(widths):
            if types[k] == "item":  # user -> items of the target's category
                se = None
                if self.category_filter:
                    ci = self.cat_index
                    se = category_segments(ci.ptr, ci.cat, ci.start, frontier, row_cat)
                nbr, eid = hop(self.fwd, frontier, w, seed, salt * 16 + k, se)
                fe = eid
            else:  # item -> users, uniform
                nbr, eid = hop(self.rev, frontier, w, seed, salt * 16 + k)
                fe = np.where(eid >= 0, rev_eid[np.maximum(eid, 0)], -1)
            ok = fe >= 0
            safe = np.maximum(fe, 0)
            blocks.extra["query"].append(torch.from_numpy(np.where(ok, fwd_query[safe], 0).astype(np.int64)
                                                          .reshape(b, -1)))
            blocks.extra["ts"].append(torch.from_numpy(np.where(ok, fwd_ts[safe], 0).astype(np.int64)
                                                       .reshape(b, -1)))
            frontier = finish_hop(blocks, nbr, fe if types[k] == "item" else eid, frontier, b)
            row_cat = np.repeat(row_cat, w)
        return blocks

    def sample(self, users: Tensor | np.ndarray, items: Tensor | np.ndarray, seed: int = 0
               ) -> tuple[Blocks, Blocks]:
        """Shapes: users [B], items [B] (the targets' entity indices) -> (user-side, item-side) Blocks.

        ``edge`` of an item hop is the ``(user, click, item)`` edge id; of a user hop the
        ``(item, rev_click, user)`` edge id. ``extra['query']``/``extra['ts']`` are those of the click edge.
        """
        u, p = as_index(users), as_index(items)
        if len(u) != len(p):
            raise ValueError("users and items must have the same length")
        safe = np.clip(p, 0, len(self.item_cat) - 1)
        cats = np.where((p >= 0) & (p < len(self.item_cat)), self.item_cat[safe], -2)
        return (self._walk("user", u, cats, self.user_widths, seed, 1),
                self._walk("item", p, cats, self.item_widths, seed, 2))

    def subgraph(self, users: Tensor | np.ndarray, items: Tensor | np.ndarray, seed: int = 0
                 ) -> dict[str, Tensor]:
        """``Batch.subgraph`` entries ``srj_user.*`` and ``srj_item.*``."""
        ub, ib = self.sample(users, items, seed)
        return {**ub.to_subgraph("srj_user"), **ib.to_subgraph("srj_item")}
