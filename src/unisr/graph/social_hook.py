"""TreeMS's sampler in the data pipeline (``graph:social``): its spec and the batch hook that fills
``Batch.subgraph`` with a ``SocialSubgraph`` (used by TreeMS and its baselines).

Shapes:
    SocialHook(batch) -> batch with subgraph = SocialSubgraph (see ``unisr.graph.subgraph``)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import torch

from unisr.data.batch import Batch
from unisr.data.features import FeatureEncoder
from unisr.data.loader import QueryTable
from unisr.graph.build import social_type
from unisr.graph.store import HeteroGraph
from unisr.graph.subgraph import SocialHop, SocialNeighbourhood, SocialSubgraph

if TYPE_CHECKING:
    from unisr.graph.samplers.blocks import Blocks


@dataclass(frozen=True)
class SocialSpec:
    """What TreeMS's sampler needs, with no defaults: the model's config is the one source of its values
    (``ShareConfig`` via each sharing model's ``sampler_spec(cfg)``).

    ``directed_pairs`` (default False: the hook as before) also gives every batch the pair's directed, weighted
    history (``SocialSubgraph.pair_out`` / ``pair_in``), read from the dataset's social table in the graph's
    window (``unisr.graph.build.social_edges``).

    Shapes:
        views [V] (None: every social view of the graph), fanouts [K]; build(...) -> SocialHook
    """

    views: tuple[str, ...] | None
    fanouts: tuple[int, ...]
    directed_pairs: bool = False
    need: ClassVar[str] = "graph:social"

    def __post_init__(self) -> None:
        if self.views is not None:
            object.__setattr__(self, "views", tuple(str(v) for v in self.views))
        fan = tuple(int(f) for f in self.fanouts)
        if not fan or any(f < 1 for f in fan):
            raise ValueError(f"fanouts must be a non-empty list of fanouts >= 1, got {list(self.fanouts)}")
        object.__setattr__(self, "fanouts", fan)

    def build(self, root: str | Path, encoder: FeatureEncoder, queries: QueryTable | None, graph_dir: str | Path,
              scenarios: Sequence[str] | None = None) -> SocialHook:
        """Build (or load the cached) graph of the dataset's training window and the hook (the social graph
        does not depend on the trained scenarios: ``scenarios`` is accepted for one call shape and unused)."""
        from unisr.graph.build import build_or_load

        graph, _ = build_or_load(root, graph_dir)
        return SocialHook(graph, encoder, self, root=root if self.directed_pairs else None)


class SocialHook:
    """TreeMS's multi-view social neighbourhoods of both users of a share impression (``graph:social``).

    The source user is ``batch.user_index``, the destination (candidate) user ``batch.target_user_index``
    (0 = unknown / not a share event; its neighbourhoods are then empty). Sets ``batch.subgraph`` to a
    ``SocialSubgraph``: both users' categorical fields, per view (in ``self.views`` order) and role a
    ``SocialNeighbourhood`` (K hops of width ``W_k = fanouts[0] * ... * fanouts[k-1]``: sampled user, mask,
    precursor, edge id, the node's categorical fields), and ``pair`` [B, V]: 1.0 where (source, destination)
    is an edge of that view in the graph's window (the pair's exact interaction history, not limited by the
    fanout). Row 0 of ``encoder.user_cat`` (the padding user) is what masked slots get. Sampling is seeded by
    ``base_seed`` and a call counter, so an epoch's samples are reproducible.

    With ``spec.directed_pairs`` (and ``root``, the dataset the graph was built from) the subgraph also has
    ``pair_out`` / ``pair_in`` [B, P]: the summed ``weight`` of the social rows source -> destination and
    destination -> source of every view of the graph's window (``pair_views``), direction and weights as
    the social table writes them (the graph's relations are symmetrised and unweighted).
    """

    def __init__(self, graph: HeteroGraph, encoder: FeatureEncoder, spec: SocialSpec, base_seed: int = 0,
                 root: str | Path | None = None) -> None:
        from unisr.graph.samplers.social import MultiViewSocialSampler  # numba kernels: only when sampling

        self.spec = spec
        self.sampler = MultiViewSocialSampler(graph, spec.views, spec.fanouts)
        self.views = list(self.sampler.views)
        self.fanouts = list(spec.fanouts)
        self.user_cat = encoder.user_cat
        self.base_seed = base_seed
        self.calls = 0
        # sorted (src * N + dst) edge keys per view, for the pair lookups of every batch
        self.pair_keys: list[tuple[np.ndarray, int]] = []
        for v in self.views:
            csr = graph.rel(social_type(v))
            row = np.repeat(np.arange(csr.num_src, dtype=np.int64), np.diff(np.asarray(csr.indptr)))
            n = csr.num_dst + 1
            self.pair_keys.append((np.sort(row * n + np.asarray(csr.indices, dtype=np.int64)), n))
        self.directed: DirectedPairs | None = None
        if spec.directed_pairs:
            if root is None:
                raise ValueError("SocialSpec(directed_pairs=True) needs the dataset root (its social table)")
            self.directed = DirectedPairs.from_table(root, graph)

    def pair(self, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """[B, V] float32: whether (src, dst) is an edge of each view."""
        src, dst = src.astype(np.int64), dst.astype(np.int64)
        out = np.zeros((len(src), len(self.views)), np.float32)
        for j, (keys, n) in enumerate(self.pair_keys):
            q = src * n + dst
            if len(keys):
                pos = np.minimum(np.searchsorted(keys, q), len(keys) - 1)
                out[:, j] = (keys[pos] == q) & (src > 0) & (dst > 0)
        return out

    def reset(self, seed: int) -> None:
        self.base_seed, self.calls = seed, 0

    def __call__(self, batch: Batch) -> Batch:
        src = batch.user_index.numpy()
        if batch.target_user_index is None:
            raise ValueError("graph:social needs batch.target_user_index (share events with target_user_id)")
        dst = np.clip(batch.target_user_index.numpy(), 0, None)
        seed = self.base_seed * 1_000_003 + self.calls
        self.calls += 1
        sampled = self.sampler.sample_pair(src, dst, seed=seed)
        views = {v: {role: self._neighbourhood(sampled[role][v]) for role in ("src", "dst")} for v in self.views}
        batch.subgraph = SocialSubgraph(torch.from_numpy(self.user_cat[src]), torch.from_numpy(self.user_cat[dst]),
                                        views, torch.from_numpy(self.pair(src, dst)))
        if self.directed is not None:
            out, inn = self.directed.lookup(src, dst)
            batch.subgraph.pair_out, batch.subgraph.pair_in = torch.from_numpy(out), torch.from_numpy(inn)
            batch.subgraph.pair_views = tuple(self.directed.views)
        return batch

    def _neighbourhood(self, blk: Blocks) -> SocialNeighbourhood:
        """One view's Blocks of one role, with every sampled node's categorical fields."""
        return SocialNeighbourhood(blk.seeds, [SocialHop(n, m, p, e, torch.from_numpy(self.user_cat[n.numpy()]))
                                               for n, m, p, e in zip(blk.nodes, blk.mask, blk.pre, blk.edge,
                                                                     strict=True)])


class DirectedPairs:
    """The social table's edges of a graph's window as sorted directed keys with summed weights, per view.

    Shapes:
        lookup(src [B], dst [B]) -> (w(src -> dst) [B, P], w(dst -> src) [B, P]) float32, 0 = no edge
    """

    def __init__(self, views: list[str], keys: list[np.ndarray], weights: list[np.ndarray], n: int) -> None:
        self.views, self.keys, self.weights, self.n = list(views), keys, weights, int(n)

    @classmethod
    def from_table(cls, root: str | Path, graph: HeteroGraph) -> DirectedPairs:
        """Every view of ``root``'s social table in ``graph``'s window (its user vocabulary and window end)."""
        from unisr.data.features import Vocabulary
        from unisr.graph.build import social_edges

        n = int(graph.num_nodes["user"]) + 1
        edges = social_edges(root, Vocabulary(np.asarray(graph.user_ids)), graph.meta.get("window_end_ts"),
                             weights=True)
        views, keys, weights = [], [], []
        for v, (a, b, w) in edges.items():
            k, inv = np.unique(a.astype(np.int64) * n + b.astype(np.int64), return_inverse=True)
            views.append(v)
            keys.append(k)
            weights.append(np.bincount(inv.reshape(-1), weights=w, minlength=len(k)).astype(np.float32))
        return cls(views, keys, weights, n)

    def _weights(self, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        out = np.zeros((len(src), len(self.views)), np.float32)
        q = src * self.n + dst
        ok = (src > 0) & (dst > 0)
        for j, (k, w) in enumerate(zip(self.keys, self.weights, strict=True)):
            if len(k):
                pos = np.minimum(np.searchsorted(k, q), len(k) - 1)
                out[:, j] = np.where((k[pos] == q) & ok, w[pos], 0.0)
        return out

    def lookup(self, src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        src, dst = src.astype(np.int64), dst.astype(np.int64)
        return self._weights(src, dst), self._weights(dst, src)
