"""Side tables the loaders join onto events by a vectorised lookup: query features by query id and the
simulator's true click probability by event id.

Shapes:
    QueryTable: tokens [n_queries + 1, L] int64, mask [n + 1, L] bool, emb [n + 1, Q] float32 (row 0 = no query),
        category / category_mask [n + 1, 1] (the category id + 1, as ``pad_lists`` shifts the category path)
    TruthLookup.lookup(event_id [N]) -> [N] float32 (NaN where unknown); lookup_no_position likewise
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from unisr.data.reader import has_table, read_table, table_columns, table_files
from unisr.data.vocab import Vocabulary, fixed_vectors, pad_lists, to_numpy


@dataclass
class QueryTable:
    """Query features by query entity index (0 = no query): padded tokens and embeddings."""

    vocab: Vocabulary
    tokens: np.ndarray | None  # [n + 1, L]
    mask: np.ndarray | None
    emb: np.ndarray | None  # [n + 1, Q]
    category: np.ndarray | None = None  # [n + 1, 1] int64, category id + 1 (0 = none)
    category_mask: np.ndarray | None = None  # [n + 1, 1] bool

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
            vec = fixed_vectors(t["emb"], "queries.parquet column 'emb'", strict=False)
            if vec is not None:
                emb = np.vstack([np.zeros((1, vec.shape[1]), np.float32), vec])
        category = category_mask = None
        if "category" in t.column_names:
            raw = t["category"].combine_chunks()
            valid = np.asarray(raw.is_valid())
            vals = np.asarray(raw.fill_null(0).to_numpy(zero_copy_only=False), np.int64)
            category = np.zeros((len(raw) + 1, 1), np.int64)
            category[1:, 0] = np.where(valid, vals + 1, 0)
            category_mask = category > 0
        return cls(vocab, tokens, mask, emb, category, category_mask)


@dataclass
class TruthLookup:
    """``p_click`` (and ``p_click_no_position`` where the truth has it) by event id (simulated data), sorted
    arrays for a vectorised join."""

    event_id: np.ndarray
    p_click: np.ndarray
    p_click_no_position: np.ndarray | None = None

    @classmethod
    def load(cls, root: str | Path) -> TruthLookup | None:
        if not has_table(root, "truth"):
            return None
        cols = ["event_id", "p_click"] + [c for c in ("p_click_no_position",) if c in table_columns(root, "truth")]
        # streamed into compact arrays (int64 + float32 per column: 16 bytes an event, 3 GiB for 200M events), one
        # row group at a time, and sorted only if the file order is not (the simulator writes it sorted)
        files = table_files(root, "truth")
        n = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
        out = {c: np.empty(n, np.int64 if c == "event_id" else np.float32) for c in cols}
        at = 0
        for f in files:
            pf = pq.ParquetFile(f)
            for rg in range(pf.metadata.num_row_groups):
                t = pf.read_row_group(rg, columns=cols)
                for c in cols:
                    out[c][at:at + t.num_rows] = t[c].to_numpy(zero_copy_only=False)
                at += t.num_rows
        eid = out["event_id"]
        if n > 1 and not bool(np.all(eid[1:] >= eid[:-1])):
            order = np.argsort(eid, kind="stable")
            for c in cols:  # one permuted copy at a time
                out[c] = out[c][order]
            del order
        return cls(out["event_id"], out["p_click"], out.get("p_click_no_position"))

    def _pos(self, event_id: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pos = np.minimum(np.searchsorted(self.event_id, event_id), len(self.event_id) - 1)
        return pos, self.event_id[pos] == event_id

    def lookup(self, event_id: np.ndarray) -> np.ndarray:
        pos, hit = self._pos(event_id)
        return np.where(hit, self.p_click[pos], np.nan).astype(np.float32)

    def lookup_no_position(self, event_id: np.ndarray) -> np.ndarray | None:
        """``p_click_no_position`` by event id (NaN where unknown), None when the truth has no such column."""
        if self.p_click_no_position is None:
            return None
        pos, hit = self._pos(event_id)
        return np.where(hit, self.p_click_no_position[pos], np.nan).astype(np.float32)
