"""The heterogeneous graph of a dataset's training window, and its on-disk cache (``.npy`` + JSON).

Node types and their index spaces (index 0 is always the null / unknown node, never connected):
    user: the ``FeatureEncoder`` user entity index (1..n_users)
    item: the ``FeatureEncoder`` item entity index (1..n_items)
    query: position + 1 in ``query_ids`` (sorted raw query ids); 0 = the empty query (recommendation)
    trigger: the trigger item's item entity index (every trigger item has a trigger node and an item node)

Relations are keyed ``(src_type, name, dst_type)`` like PyG edge types. No pickle is ever written or read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from unisr.graph.csr import CSR

EdgeType = tuple[str, str, str]
MANIFEST = "manifest.json"
FORMAT_VERSION = 1


def edge_key(et: EdgeType) -> str:
    return "__".join(et)


def parse_edge_key(key: str) -> EdgeType:
    a, b, c = key.split("__")
    return a, b, c


@dataclass
class CategoryIndex:
    """Per-row category segments of a CSR whose rows are sorted by (category, ts).

    Pair ``p`` of row ``r`` (``ptr[r] <= p < ptr[r + 1]``) has category ``cat[p]`` and its edges are
    ``start[p]:start[p + 1]`` of the CSR.

    Shapes: ptr [num_src + 1] int64, cat [P] int16/int32 (sorted within a row), start [P + 1] int32/int64.
    Optional: ``build_graph`` no longer stores one (rows sorted by category are searched directly).
    """

    ptr: np.ndarray
    cat: np.ndarray
    start: np.ndarray

    def nbytes(self) -> int:
        return int(self.ptr.nbytes + self.cat.nbytes + self.start.nbytes)


@dataclass
class HeteroGraph:
    """CSR relations + node metadata. See the module docstring for index spaces.

    Shapes:
        item_category: [n_items + 1] int32, the item's category at ``meta['category_level']`` (-1 unknown)
        item_category_path: [n_items + 1, L] int32 (-1 padded)
        query_ids: [n_queries] int64 raw ids (query node = position + 1)
        user_ids / item_ids: [n] int64 raw ids sorted (entity index = position + 1)
    """

    num_nodes: dict[str, int]
    relations: dict[EdgeType, CSR]
    item_category: np.ndarray
    item_category_path: np.ndarray
    user_ids: np.ndarray
    item_ids: np.ndarray
    query_ids: np.ndarray
    category_index: dict[EdgeType, CategoryIndex] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, et: EdgeType) -> CSR:
        return self.relations[et]

    def rel(self, et: EdgeType) -> CSR:
        if et not in self.relations:
            raise KeyError(f"no relation {et}; have {sorted(self.relations)}")
        return self.relations[et]

    @property
    def num_edges(self) -> int:
        return sum(r.num_edges for r in self.relations.values())

    def nbytes(self) -> int:
        """Bytes of the edge structure: CSRs, their attributes and the category indexes."""
        return sum(r.nbytes() for r in self.relations.values()) + sum(
            c.nbytes() for c in self.category_index.values())

    def bytes_per_edge(self) -> float:
        return self.nbytes() / max(self.num_edges, 1)

    def query_index(self, raw: np.ndarray) -> np.ndarray:
        """Raw query ids -> query node (0 for unknown / null)."""
        raw = np.asarray(raw, dtype=np.int64)
        if len(self.query_ids) == 0:
            return np.zeros(len(raw), np.int64)
        pos = np.clip(np.searchsorted(self.query_ids, raw), 0, len(self.query_ids) - 1)
        return np.where(self.query_ids[pos] == raw, pos + 1, 0).astype(np.int64)

    # ------------------------------------------------------------------ io
    def save(self, out: str | Path) -> Path:
        """Write ``out/manifest.json`` and one ``.npy`` per array."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        files: dict[str, str] = {}

        def put(name: str, arr: np.ndarray) -> None:
            fn = f"{name}.npy"
            np.save(out / fn, np.ascontiguousarray(arr), allow_pickle=False)
            files[name] = fn

        for name in ("item_category", "item_category_path", "user_ids", "item_ids", "query_ids"):
            put(name, getattr(self, name))
        rels = {}
        for et, csr in self.relations.items():
            k = edge_key(et)
            put(f"{k}.indptr", csr.indptr)
            put(f"{k}.indices", csr.indices)
            for a, v in csr.attrs.items():
                put(f"{k}.attr.{a}", v)
            rels[k] = {"num_dst": csr.num_dst, "num_edges": csr.num_edges, "attrs": sorted(csr.attrs),
                       "indices_dtype": str(csr.indices.dtype)}
        cats = {}
        for et, ci in self.category_index.items():
            k = edge_key(et)
            put(f"{k}.cat.ptr", ci.ptr)
            put(f"{k}.cat.cat", ci.cat)
            put(f"{k}.cat.start", ci.start)
            cats[k] = True
        manifest = {
            "format_version": FORMAT_VERSION,
            "num_nodes": self.num_nodes,
            "relations": rels,
            "category_index": sorted(cats),
            "num_edges": self.num_edges,
            "bytes": self.nbytes(),
            "bytes_per_edge": round(self.bytes_per_edge(), 3),
            "meta": self.meta,
        }
        (out / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
        return out / MANIFEST

    @classmethod
    def load(cls, path: str | Path, mmap: bool = False) -> HeteroGraph:
        path = Path(path)
        man = json.loads((path / MANIFEST).read_text())
        if man.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{path / MANIFEST}: unsupported graph format {man.get('format_version')}")
        mode = "r" if mmap else None

        def get(name: str) -> np.ndarray:
            return np.load(path / f"{name}.npy", allow_pickle=False, mmap_mode=mode)

        rels = {}
        for k, r in man["relations"].items():
            rels[parse_edge_key(k)] = CSR(get(f"{k}.indptr"), get(f"{k}.indices"), int(r["num_dst"]),
                                          {a: get(f"{k}.attr.{a}") for a in r["attrs"]})
        cats = {parse_edge_key(k): CategoryIndex(get(f"{k}.cat.ptr"), get(f"{k}.cat.cat"),
                                                 get(f"{k}.cat.start")) for k in man["category_index"]}
        return cls(num_nodes={k: int(v) for k, v in man["num_nodes"].items()}, relations=rels,
                   item_category=get("item_category"), item_category_path=get("item_category_path"),
                   user_ids=get("user_ids"), item_ids=get("item_ids"), query_ids=get("query_ids"),
                   category_index=cats, meta=man["meta"])

    # ------------------------------------------------------------------ PyG
    def to_hetero_data(self) -> Any:
        """A ``torch_geometric.data.HeteroData`` with ``edge_index`` and edge attributes per relation."""
        import torch
        from torch_geometric.data import HeteroData

        data = HeteroData()
        for nt, n in self.num_nodes.items():
            data[nt].num_nodes = n
        data["item"].category = torch.from_numpy(np.asarray(self.item_category, dtype=np.int64))
        for et, csr in self.relations.items():
            row = np.repeat(np.arange(csr.num_src, dtype=np.int64), np.diff(csr.indptr))
            ei = np.stack([row, np.asarray(csr.indices, dtype=np.int64)])
            store = data[et]
            store.edge_index = torch.from_numpy(ei)
            for a, v in csr.attrs.items():
                store[f"edge_{a}"] = torch.from_numpy(np.asarray(v).astype(np.int64))
        return data
