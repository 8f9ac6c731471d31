"""Side tables the loaders join onto events by a vectorised lookup: query features by query id and the
simulator's true click probability by event id.

Shapes:
    QueryTable: tokens [n_queries + 1, L] int64, mask [n + 1, L] bool, emb [n + 1, Q] float32 (row 0 = no query)
    TruthLookup.lookup(event_id [N]) -> [N] float32 (NaN where unknown)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from unisr.data.reader import has_table, read_table
from unisr.data.vocab import Vocabulary, pad_lists, to_numpy


@dataclass
class QueryTable:
    """Query features by query entity index (0 = no query): padded tokens and embeddings."""

    vocab: Vocabulary
    tokens: np.ndarray | None  # [n + 1, L]
    mask: np.ndarray | None
    emb: np.ndarray | None  # [n + 1, Q]

    @classmethod
    def load(cls, root: str | Path, max_len: int) -> QueryTable | None:
        if not has_table(root, "queries"):
            return None
        t = read_table(root, "queries")
        ids = to_numpy(t["query_id"])
        order = np.argsort(ids, kind="stable")
        t = t.take(pa.array(order))
        vocab = Vocabulary(ids[order])
        tokens = mask = emb = None
        if "tokens" in t.column_names:
            tok, m = pad_lists(t["tokens"], max_len)
            tokens = np.vstack([np.zeros((1, max_len), np.int64), tok])
            mask = np.vstack([np.zeros((1, max_len), bool), m])
        if "emb" in t.column_names:
            col = t["emb"].combine_chunks()
            lens = pc.list_value_length(col).fill_null(0).to_numpy()
            dim = int(lens.max(initial=0))
            if dim:
                e = np.zeros((len(col) + 1, dim), np.float32)
                ok = lens == dim
                flat = col.filter(pa.array(ok)).flatten().to_numpy(zero_copy_only=False)
                e[1:][ok] = np.asarray(flat, np.float32).reshape(-1, dim)
                emb = e
        return cls(vocab, tokens, mask, emb)


@dataclass
class TruthLookup:
    """``p_click`` by event id (simulated data), sorted arrays for a vectorised join."""

    event_id: np.ndarray
    p_click: np.ndarray

    @classmethod
    def load(cls, root: str | Path) -> TruthLookup | None:
        if not has_table(root, "truth"):
            return None
        t = read_table(root, "truth", ["event_id", "p_click"])
        eid = t["event_id"].to_numpy()
        order = np.argsort(eid, kind="stable")
        return cls(eid[order], t["p_click"].to_numpy().astype(np.float32)[order])

    def lookup(self, event_id: np.ndarray) -> np.ndarray:
        pos = np.minimum(np.searchsorted(self.event_id, event_id), len(self.event_id) - 1)
        return np.where(self.event_id[pos] == event_id, self.p_click[pos], np.nan).astype(np.float32)
