"""Typed sampled subgraphs: what a graph hook puts into ``Batch.subgraph`` and what a graph model reads.

Every tensor here is per sample (first dimension B), so ``Batch.to`` and ``Batch.select`` move and slice a
subgraph with the rest of the batch (``map_tensors``). The structures a model needs beyond the padded hops (the
nodes that reach their seed, the sampled trees as one graph, the social forest) are derived on demand
(``reachable`` here, ``unisr.graph.trees``), never stored, so a sliced subgraph stays consistent.

Shapes (W_k = fanout_1 * ... * fanout_k slots per seed at hop k; slot j of hop k hangs under slot
``j // fanout_k`` of hop k-1, its precursor; hop 0 is the seed):
    TreeHop: feat [B, W_k, F_node], pre_feat [B, W_k, F_pre], qtok [B, W_k, Lq], mask [B, W_k] bool
    TargetAwareSubgraph: user_seed_feat [B, F_user], item_seed_feat [B, F_item], user_hops / item_hops: K hops
    SocialHop: nodes [B, W_k] long, mask [B, W_k] bool, pre [B, W_k] long, edge [B, W_k] long,
        feat [B, W_k, F_user]
    SocialNeighbourhood: seeds [B] long, hops: K SocialHop
    SocialSubgraph: src_seed_feat / dst_seed_feat [B, F_user], views: view -> role -> SocialNeighbourhood,
        pair [B, V] float or None, pair_out / pair_in [B, P] float or None (P = pair_views)
    MetapathTree: seeds [B] long, hop1 / hop2 nodes [B, W1] / [B, W2] long, mask1 / mask2 bool, pre2 [B, W2]
        long (the hop-1 slot a hop-2 node extends); node_types (start, hop 1, hop 2)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

import torch
from torch import Tensor

T = TypeVar("T")
SIDES = ("user", "item")
ROLES = ("src", "dst")


def _map(value: Any, fn: Callable[[Tensor], Tensor]) -> Any:
    if isinstance(value, Tensor):
        return fn(value)
    if isinstance(value, list):
        return [_map(v, fn) for v in value]
    if isinstance(value, dict):
        return {k: _map(v, fn) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(value, **{f.name: _map(getattr(value, f.name), fn)
                                             for f in dataclasses.fields(value)})
    return value


class _Tensors:
    """``map_tensors(fn)``: the same structure with ``fn`` applied to every tensor (``Batch.to`` / ``select``)."""

    def map_tensors(self: T, fn: Callable[[Tensor], Tensor]) -> T:
        return _map(self, fn)


def require(batch_subgraph: Any, kind: type[T], model: str, need: str) -> T:
    """``batch.subgraph`` if it is a ``kind``, else a ValueError naming the model and the missing input."""
    if isinstance(batch_subgraph, kind):
        return batch_subgraph
    got = "no subgraph" if not batch_subgraph else f"a {type(batch_subgraph).__name__}"
    raise ValueError(f"model {model} needs batch.subgraph: a {kind.__name__} from the {need} sampler "
                     f"(unisr.graph.hooks); the batch has {got}")


class Reachable(NamedTuple):
    """The sampled nodes of one hop that reach the seed (present, under present precursors).

    Shapes:
        reach: [B * W_k] bool over the flat slots; index: [n_k] their flat positions; rank: [B * W_k] the row
        of each flat position among the reachable ones (valid where ``reach``)
    """

    reach: Tensor
    index: Tensor
    rank: Tensor


@dataclass
class TreeHop(_Tensors):
    """Hop k of one side of SRJGraph's sample (``SRJGraphHook``): the sampled node's categorical fields, its
    precursor's, the query on the edge to the precursor (0 = empty query); all zero where ``mask`` is False.

    Shapes:
        feat [B, W_k, F_node], pre_feat [B, W_k, F_pre], qtok [B, W_k, Lq] long, mask [B, W_k] bool
    """

    feat: Tensor
    pre_feat: Tensor
    qtok: Tensor
    mask: Tensor


def fanouts_of(masks: Sequence[Tensor]) -> list[int]:
    """Per-hop fanouts of padded hops: W_k / W_{k-1} (W_0 = 1). Shapes: masks[k] [B, W_k] -> [K]."""
    out, prev = [], 1
    for m in masks:
        w = int(m.shape[1])
        if w % prev:
            raise ValueError(f"hop width {w} is not a multiple of the previous hop's {prev}")
        out.append(w // prev)
        prev = w
    return out


def reachable(masks: Sequence[Tensor]) -> list[Reachable]:
    """Per hop, the slots whose node and every precursor are present (a padded slot, or a node under one, has
    no path to the seed). Shapes: masks[k] [B, W_k] bool -> K ``Reachable``."""
    out, reach = [], None
    for f, m in zip(fanouts_of(masks), masks, strict=True):
        flat = m.reshape(-1)
        reach = flat if reach is None else flat & reach.repeat_interleave(f)
        out.append(Reachable(reach, reach.nonzero().squeeze(1), reach.cumsum(0) - 1))
    return out


@dataclass
class TargetAwareSubgraph(_Tensors):
    """SRJGraph's forward multi-order sample of each target (u, q, p): the user-side tree (seeded at u) and the
    item-side tree (seeded at p), used by SRJGraph and its GNN baselines (``graph:srjgraph``).

    Shapes:
        user_seed_feat [B, F_user], item_seed_feat [B, F_item]; user_hops[k] / item_hops[k]: ``TreeHop``
        (user side: hop 1 items, hop 2 users, ...; item side: hop 1 users, ...)
        reachable(side) -> K ``Reachable``; widths(side) -> [K] fanouts (the graph built from it:
        ``unisr.graph.trees.build_trees``)
    """

    user_seed_feat: Tensor
    item_seed_feat: Tensor
    user_hops: list[TreeHop] = field(default_factory=list)
    item_hops: list[TreeHop] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.user_seed_feat.shape[0])

    def hops(self, side: str) -> list[TreeHop]:
        """The hops of side ``user`` (seeded at the target user) or ``item``."""
        if side not in SIDES:
            raise ValueError(f"side must be one of {SIDES}, got {side!r}")
        return self.user_hops if side == "user" else self.item_hops

    def seed_feat(self, side: str) -> Tensor:
        self.hops(side)
        return self.user_seed_feat if side == "user" else self.item_seed_feat

    def widths(self, side: str) -> list[int]:
        return fanouts_of([h.mask for h in self.hops(side)])

    def reachable(self, side: str) -> list[Reachable]:
        return reachable([h.mask for h in self.hops(side)])

    def check_widths(self, model: str, user_widths: Sequence[int], item_widths: Sequence[int]) -> None:
        """Fail, naming the model, if the sample's per-hop fanouts are not the model's configured widths."""
        got = (self.widths("user"), self.widths("item"))
        if got != (list(user_widths), list(item_widths)):
            raise ValueError(f"model {model} was built for user_widths={list(user_widths)}, "
                             f"item_widths={list(item_widths)}; batch.subgraph was sampled with {got[0]}, {got[1]}")


@dataclass
class SocialHop(_Tensors):
    """Hop k of one user's sample in one social view (``SocialHook``).

    Shapes:
        nodes [B, W_k] long (0 where masked), mask [B, W_k] bool, pre [B, W_k] long (the precursor: hop k-1 node
        or the seed), edge [B, W_k] long (edge id in the view, -1 where masked), feat [B, W_k, F_user]
    """

    nodes: Tensor
    mask: Tensor
    pre: Tensor
    edge: Tensor
    feat: Tensor


@dataclass
class SocialNeighbourhood(_Tensors):
    """One user's (source or destination) sampled neighbourhood in one view.

    Shapes:
        seeds [B] long (user index), hops[k]: ``SocialHop``
    """

    seeds: Tensor
    hops: list[SocialHop] = field(default_factory=list)


@dataclass
class SocialSubgraph(_Tensors):
    """TreeMS's multi-view social sample of both users of a share impression (``graph:social``).

    ``pair[:, j]`` is 1.0 where (source, destination) is an edge of view ``list(views)[j]`` in the graph window
    (exact, not limited by the fanout, of the graph's relation: symmetrised, unweighted); None when the sampler
    gives no exact pair history.

    ``pair_out[:, j]`` / ``pair_in[:, j]`` (only from a hook built with ``SocialSpec(directed_pairs=True)``):
    the summed ``weight`` of the social table's rows source -> destination / destination -> source of view
    ``pair_views[j]`` in the graph window, as written (direction kept: pay_out vs pay_in; weights kept:
    interaction and share counts); 0 where there is none. ``pair_views`` are every view of the window, not
    only the sampled ``views``.

    Shapes:
        src_seed_feat / dst_seed_feat [B, F_user]; views[view][role] (role ``src`` / ``dst``):
        ``SocialNeighbourhood``; pair [B, V] float or None; pair_out / pair_in [B, P] float or None
        neighbourhood(view, role) -> SocialNeighbourhood (the forest built from it: ``unisr.graph.trees.social_forest``)
        directed_pairs(names [P']) -> (out [B, P'], in [B, P'])
    """

    src_seed_feat: Tensor
    dst_seed_feat: Tensor
    views: dict[str, dict[str, SocialNeighbourhood]] = field(default_factory=dict)
    pair: Tensor | None = None
    pair_out: Tensor | None = None
    pair_in: Tensor | None = None
    pair_views: tuple[str, ...] = ()

    def __len__(self) -> int:
        return int(self.src_seed_feat.shape[0])

    def neighbourhood(self, view: str, role: str) -> SocialNeighbourhood:
        if view not in self.views:
            raise ValueError(f"batch.subgraph has no social view {view!r}; it has {sorted(self.views)}")
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {role!r}")
        return self.views[view][role]

    def seed_feat(self, role: str) -> Tensor:
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {role!r}")
        return self.src_seed_feat if role == "src" else self.dst_seed_feat

    def pair_history(self, views: Sequence[str]) -> Tensor | None:
        """[B, len(views)] float: the exact pair indicators of ``views`` (in that order), or None."""
        if self.pair is None:
            return None
        have = list(self.views)
        if list(views) == have:
            return self.pair
        missing = [v for v in views if v not in have]
        if missing:
            raise ValueError(f"batch.subgraph has no pair history of view(s) {missing}; it has {have}")
        return self.pair[:, torch.tensor([have.index(v) for v in views], device=self.pair.device)]

    def directed_pairs(self, views: Sequence[str]) -> tuple[Tensor, Tensor]:
        """(pair_out, pair_in) of ``views`` in that order, [B, len(views)] each; a view the data has no edge of
        (absent from ``pair_views``, e.g. ``interact`` on data version 1) is a zero column."""
        if self.pair_out is None or self.pair_in is None:
            raise ValueError("batch.subgraph has no directed pair history: the graph:social hook needs "
                             "SocialSpec(directed_pairs=True) (ShareConfig.pair_mode='directed')")
        b = self.pair_out.shape[0]
        zero = self.pair_out.new_zeros(b, 1)
        idx = {v: j for j, v in enumerate(self.pair_views)}

        def cols(t: Tensor) -> Tensor:
            parts = [t[:, idx[v]: idx[v] + 1] if v in idx else zero for v in views]
            return torch.cat(parts, 1) if parts else t.new_zeros(b, 0)

        return cols(self.pair_out), cols(self.pair_in)


@dataclass
class MetapathTree(_Tensors):
    """One metapath's sample around B start nodes (``MetapathSampler``, BOMGraph eqs. 1-3): the start node,
    its one-hop nodes and its two-hop nodes, each two-hop node extending the one-hop slot ``pre2``.

    Shapes:
        seeds [B] long; nodes1 [B, W1] long, mask1 [B, W1] bool; nodes2 [B, W2] long, mask2 [B, W2] bool,
        pre2 [B, W2] long; node_types = (start type, hop-1 type, hop-2 type)
    """

    seeds: Tensor
    nodes1: Tensor
    mask1: Tensor
    nodes2: Tensor
    mask2: Tensor
    pre2: Tensor
    node_types: tuple[str, str, str] = ("item", "item", "item")

    @classmethod
    def from_blocks(cls, blocks: Any) -> MetapathTree:
        """From ``MetapathSampler.sample_path``'s ``Blocks`` (two hops, ``extra['pre_slot']``)."""
        if len(blocks.nodes) != 2:
            raise ValueError(f"a metapath tree has two hops; the blocks have {len(blocks.nodes)}")
        start = blocks.edge_types[0][0]
        return cls(blocks.seeds, blocks.nodes[0], blocks.mask[0], blocks.nodes[1], blocks.mask[1],
                   blocks.extra["pre_slot"][1], (start, *blocks.node_types))
