"""SRJGraph's sampler in the data pipeline (``graph:srjgraph``): its spec and the batch hook that fills
``Batch.subgraph`` with a ``TargetAwareSubgraph`` (used by SRJGraph and its GNN baselines).

Shapes:
    SRJGraphHook(batch) -> batch with subgraph = TargetAwareSubgraph (see ``unisr.graph.subgraph``)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from unisr.data.batch import Batch
from unisr.data.features import FeatureEncoder
from unisr.data.loader import QueryTable
from unisr.graph.store import HeteroGraph
from unisr.graph.subgraph import TargetAwareSubgraph, TreeHop


def _widths(name: str, widths: Sequence[int]) -> tuple[int, ...]:
    out = tuple(int(w) for w in widths)
    if not out or any(w < 1 for w in out):
        raise ValueError(f"{name} must be a non-empty list of widths >= 1, got {list(widths)}")
    return out


@dataclass(frozen=True)
class TargetAwareSpec:
    """What SRJGraph's sampler needs, with no defaults: the model's config is the one source of its values
    (``SRJGraph.sampler_spec(cfg)``, ``TreeGNNRanker.sampler_spec(cfg)``).

    Shapes:
        user_widths [K_u], item_widths [K_i] (neighbours per precursor at each hop); build(...) -> SRJGraphHook
    """

    user_widths: tuple[int, ...]
    item_widths: tuple[int, ...]
    category_filter: bool  # user -> item hops keep the target item's category only
    temporal: bool  # only clicks made strictly before the target event
    need: ClassVar[str] = "graph:srjgraph"

    def __post_init__(self) -> None:
        object.__setattr__(self, "user_widths", _widths("user_widths", self.user_widths))
        object.__setattr__(self, "item_widths", _widths("item_widths", self.item_widths))
        object.__setattr__(self, "category_filter", bool(self.category_filter))
        object.__setattr__(self, "temporal", bool(self.temporal))

    def build(self, root: str | Path, encoder: FeatureEncoder, queries: QueryTable | None, graph_dir: str | Path,
              scenarios: Sequence[str] | None = None) -> SRJGraphHook:
        """Build (or load the cached) click graph of the dataset's training window and the hook.

        With ``scenarios`` (the run's ``data.scenarios``) only those scenarios' clicks are user-item edges (the
        joint graph of the trained scenarios, or one scenario's graph), cached in ``graph_dir/clicks-<names>``."""
        from unisr.graph.build import GraphConfig, build_or_load

        config = GraphConfig(click_scenarios=tuple(sorted(scenarios)) if scenarios else None)
        if scenarios:
            graph_dir = Path(graph_dir) / ("clicks-" + "+".join(sorted(scenarios)))
        graph, _ = build_or_load(root, graph_dir, config)
        return SRJGraphHook(graph, encoder, queries, self)


def _gather_rows(table: np.ndarray, index: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """``table[index]`` at the flat positions ``keep`` of ``index``, zero rows elsewhere.

    Shapes:
        table: [N, F], index: [B, W], keep: [n] flat positions -> [B, W, F]
    """
    out = np.zeros((index.size, table.shape[1]), table.dtype)
    out[keep] = table[index.ravel()[keep]]
    return out.reshape(*index.shape, table.shape[1])


class SRJGraphHook:
    """SRJGraph's forward multi-order sampling for each target (u, q, p) of a batch.

    Sets ``batch.subgraph`` to a ``TargetAwareSubgraph``: the seeds' categorical fields and, per side (user,
    item) and hop k = 1..K, a ``TreeHop`` with the sampled node's fields, its precursor's, the query tokens on
    the edge to the precursor and the mask (False for a padded slot and for every slot under one; the three
    others hold zeros there). The sampler's seed is ``base_seed`` + a counter, so an epoch's samples are
    reproducible. With ``spec.temporal`` and ``Batch.ts`` present, only clicks made strictly before each target
    event are sampled.
    """

    def __init__(self, graph: HeteroGraph, encoder: FeatureEncoder, queries: QueryTable | None,
                 spec: TargetAwareSpec, base_seed: int = 0) -> None:
        from unisr.graph.samplers.target_aware import TargetAwareSampler  # numba kernels: only when sampling

        self.spec = spec
        self.sampler = TargetAwareSampler(graph, spec.user_widths, spec.item_widths, spec.category_filter)
        self.temporal = spec.temporal
        item_feats = encoder.item_cat
        if encoder.schema.sequence("item.category_path") is not None:
            # the item's leaf category as one more field, in the id space of ``item.category_path`` (raw + 1,
            # 0 = unknown): SRJGraph embeds category like brand (paper table 2)
            leaf = np.asarray(graph.item_category, np.int64) + 1
            item_feats = np.concatenate([item_feats, np.clip(leaf, 0, None)[:, None]], 1)
        if encoder.schema.item_node_terms():
            # the item's title term ids after its fields (SRJGraph eqs. 1-3; ``nn.entity.NodeEmbedding``)
            item_feats = np.concatenate([item_feats, encoder.item_seq["item.title_tokens"][0]], 1)
        self.feats = {"user": encoder.user_cat, "item": item_feats}
        lq = queries.tokens.shape[1] if queries is not None and queries.tokens is not None else 1
        qt = np.zeros((len(graph.query_ids) + 1, lq), np.int64)  # graph query node -> padded tokens
        if queries is not None and queries.tokens is not None and len(graph.query_ids):
            qt[1:] = queries.tokens[queries.vocab.lookup(graph.query_ids)]
        self.query_tokens = qt
        self.base_seed = base_seed
        self.calls = 0

    def reset(self, seed: int) -> None:
        self.base_seed, self.calls = seed, 0

    def __call__(self, batch: Batch) -> Batch:
        users = batch.user_index.numpy()
        items = batch.item_index.numpy()
        seed = self.base_seed * 1_000_003 + self.calls
        self.calls += 1
        ts = batch.ts.numpy() if self.temporal and batch.ts is not None else None
        ub, ib = self.sampler.sample(users, items, seed=seed, ts=ts)
        sides = {}
        for side, blocks in (("user", ub), ("item", ib)):
            prev_type, hops = side, []
            for k, ntype in enumerate(blocks.node_types):
                # only the sampled slots are gathered (the sampler masks every slot under a masked precursor);
                # a padded slot's rows stay 0, and no model reads them
                keep = blocks.mask[k].numpy().ravel().nonzero()[0]
                rows = [torch.from_numpy(_gather_rows(table, index.numpy(), keep))
                        for table, index in ((self.feats[ntype], blocks.nodes[k]),
                                             (self.feats[prev_type], blocks.pre[k]),
                                             (self.query_tokens, blocks.extra["query"][k]))]
                hops.append(TreeHop(*rows, mask=blocks.mask[k]))
                prev_type = ntype
            sides[side] = hops
        batch.subgraph = TargetAwareSubgraph(torch.from_numpy(self.feats["user"][users]),
                                             torch.from_numpy(self.feats["item"][items]),
                                             sides["user"], sides["item"])
        return batch
