"""BOMGraph's cross-scenario data augmentation (Fan et al., CIKM'23, section 3.4): in scenario o, a training
pair (q, i) whose item i has fewer than ``min_clicks`` (paper: 3) clicks in o gets extra pairs (q, i') with the
``top`` (paper: 5) items i' most similar to i in the *other* scenarios, by the similarity edges SE_o' (o' != o)
of the graph and their cosine (``sim`` attribute); an item with >= ``min_clicks`` clicks in o gets none.

``augmentation_table`` computes, once per run, the up-to-``top`` substitutes of every (scenario, item) that
needs them (vectorised over all SE edges: one lexsort, no per-item loop); ``augment_pairs`` expands a batch's
positive pairs with them.

Shapes:
    augmentation_table(graph, clicks [S, N + 1], scenario_names [S]) -> [S, N + 1, top] item indices (-1 = none)
    augment_pairs(rows [P], scenario [P], item [P], table) -> (row [P'], item [P']) the extra pairs' source rows
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from unisr.graph.build import se_type
from unisr.graph.store import HeteroGraph


def augmentation_table(graph: HeteroGraph, clicks: np.ndarray, scenario_names: Sequence[str],
                       search: Sequence[str] | None = None, min_clicks: int = 3, top: int = 5) -> np.ndarray:
    """Per (scenario s, item) with ``clicks[s, item]`` < ``min_clicks``: the ``top`` items most similar to it by
    the SE edges of the scenarios in ``search`` (default: every scenario with SE edges) other than s, best
    first, each substitute once (its highest similarity over those scenarios); -1 pads. Scenarios outside
    ``search`` and items with enough clicks get no substitute. ``clicks``: training clicks per (scenario, item
    entity), [S, N + 1]."""
    s_count, n1 = clicks.shape
    out = np.full((s_count, n1, top), -1, np.int64)
    names = list(scenario_names)
    se = {n: graph.relations[se_type(n)] for n in names if se_type(n) in graph.relations}
    search = [n for n in (search if search is not None else names) if n in se]
    for s, name in enumerate(names):
        if name not in search:
            continue
        src, dst, sim = [], [], []
        for other in search:
            if other == name:
                continue
            c = se[other]
            rows = np.repeat(np.arange(c.num_src, dtype=np.int64), np.diff(c.indptr))
            src.append(rows)
            dst.append(c.indices.astype(np.int64))
            sim.append(c.attrs["sim"].astype(np.float32) if "sim" in c.attrs
                       else np.ones(c.num_edges, np.float32))
        if not src:
            continue
        a, b, w = np.concatenate(src), np.concatenate(dst), np.concatenate(sim)
        need = clicks[s] < min_clicks
        keep = need[np.clip(a, 0, n1 - 1)] & (a > 0) & (b > 0) & (a != b) & (a < n1) & (b < n1)
        a, b, w = a[keep], b[keep], w[keep]
        # one entry per (item, substitute): its best similarity over the other scenarios
        order = np.lexsort((-w, b, a))
        a, b, w = a[order], b[order], w[order]
        first = np.ones(len(a), bool)
        first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
        a, b, w = a[first], b[first], w[first]
        # best first within each item, then the rank of each entry within its item
        order = np.lexsort((b, -w, a))
        a, b = a[order], b[order]
        start = np.searchsorted(a, a, side="left")
        rank = np.arange(len(a)) - start
        m = rank < top
        out[s, a[m], rank[m]] = b[m]
    return out


def augment_pairs(rows: np.ndarray, scenario: np.ndarray, item: np.ndarray, table: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """The extra training pairs of positive pairs (row k: ``scenario[k]``, ``item[k]``): for every substitute
    of (scenario, item) in ``table``, (``rows[k]``, substitute). Rows are kept in order, substitutes best
    first."""
    subs = table[np.asarray(scenario, np.int64), np.asarray(item, np.int64)]  # [P, top]
    k, j = np.nonzero(subs >= 0)
    return np.asarray(rows)[k], subs[k, j]
