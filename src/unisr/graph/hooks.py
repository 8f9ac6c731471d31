"""Batch hooks: fill ``Batch.subgraph`` with sampled neighbourhoods and the features of every sampled node.

A hook runs in the data pipeline (after a batch is collated, before the model), so models only embed the
indices they are given and never touch graphs or tables.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from unisr.data.batch import Batch
from unisr.data.features import FeatureEncoder
from unisr.data.loader import QueryTable
from unisr.graph.build import social_type
from unisr.graph.samplers.social import MultiViewSocialSampler
from unisr.graph.samplers.target_aware import TargetAwareSampler
from unisr.graph.store import HeteroGraph


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

    Adds, for side in (``srj_user``, ``srj_item``) and hop k = 1..K:
        ``{side}.hop{k}.feat``: [B, W_k, F_type] categorical feature indices of the sampled node
        ``{side}.hop{k}.pre_feat``: [B, W_k, F_pretype] those of its precursor
        ``{side}.hop{k}.qtok``: [B, W_k, Lq] query tokens on the edge to the precursor (0 = empty query)
        ``{side}.hop{k}.mask``: [B, W_k] bool (False for a padded slot and for every slot under one; the
        three tensors above hold zeros there)
    and ``srj_user.seed_feat`` [B, F_user], ``srj_item.seed_feat`` [B, F_item].
    The sampler's seed is ``base_seed`` + a counter, so an epoch's samples are reproducible. With ``temporal``
    (default) and ``Batch.ts`` present, only clicks made strictly before each target event are sampled.
    """

    def __init__(self, graph: HeteroGraph, encoder: FeatureEncoder, queries: QueryTable | None,
                 user_widths: Sequence[int] = (25, 1, 10), item_widths: Sequence[int] = (1, 25, 1),
                 category_filter: bool = True, base_seed: int = 0, temporal: bool = True) -> None:
        self.sampler = TargetAwareSampler(graph, user_widths, item_widths, category_filter)
        self.temporal = temporal
        item_feats = encoder.item_cat
        if encoder.schema.sequence("item.category_path") is not None:
            # the item's leaf category as one more field, in the id space of ``item.category_path`` (raw + 1,
            # 0 = unknown): SRJGraph embeds category like brand (paper table 2)
            leaf = np.asarray(graph.item_category, np.int64) + 1
            item_feats = np.concatenate([item_feats, np.clip(leaf, 0, None)[:, None]], 1)
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
        sub: dict[str, torch.Tensor] = {
            "srj_user.seed_feat": torch.from_numpy(self.feats["user"][users]),
            "srj_item.seed_feat": torch.from_numpy(self.feats["item"][items]),
        }
        for side, blocks, start in (("srj_user", ub, "user"), ("srj_item", ib, "item")):
            prev_type = start
            for k, ntype in enumerate(blocks.node_types):
                h = f"{side}.hop{k + 1}"
                # only the sampled slots are gathered (the sampler masks every slot under a masked precursor);
                # a padded slot's rows stay 0, and no model reads them
                keep = blocks.mask[k].numpy().ravel().nonzero()[0]
                for key, table, index in (("feat", self.feats[ntype], blocks.nodes[k]),
                                          ("pre_feat", self.feats[prev_type], blocks.pre[k]),
                                          ("qtok", self.query_tokens, blocks.extra["query"][k])):
                    sub[f"{h}.{key}"] = torch.from_numpy(_gather_rows(table, index.numpy(), keep))
                sub[f"{h}.mask"] = blocks.mask[k]
                prev_type = ntype
        batch.subgraph.update(sub)
        return batch


def make_srjgraph_hook(root, encoder: FeatureEncoder, queries: QueryTable | None, params: dict,
                       graph_dir, scenarios: Sequence[str] | None = None) -> SRJGraphHook:
    """Build (or load the cached) graph of the dataset's training window and the SRJGraph hook.

    With ``scenarios`` (the run's ``data.scenarios``) only those scenarios' clicks are user-item edges (the
    joint graph of the trained scenarios, or one scenario's graph), cached in ``graph_dir/clicks-<names>``."""
    from pathlib import Path

    from unisr.graph.build import GraphConfig, build_or_load

    config = GraphConfig(click_scenarios=tuple(sorted(scenarios)) if scenarios else None)
    if scenarios:
        graph_dir = Path(graph_dir) / ("clicks-" + "+".join(sorted(scenarios)))
    graph, _ = build_or_load(root, graph_dir, config)
    return SRJGraphHook(graph, encoder, queries, params.get("user_widths", (25, 1, 10)),
                        params.get("item_widths", (1, 25, 1)), params.get("category_filter", True),
                        temporal=params.get("temporal", True))


class SocialHook:
    """TreeMS's multi-view social neighbourhoods of both users of a share impression (``graph:social``).

    The source user is ``batch.user_index``, the destination (candidate) user ``batch.target_user_index``
    (0 = unknown / not a share event; its neighbourhoods are then empty). With V = ``views``, K hops of
    width ``W_k = fanouts[0] * ... * fanouts[k-1]``, F_user categorical user fields, the hook adds exactly:
        ``social.src.seed_feat``, ``social.dst.seed_feat``: [B, F_user] categorical features of the two users
        for view in V, role in (``src``, ``dst``):
            ``social.<view>.<role>.seeds``: [B] long, the user index (src = user_index, dst = target_user_index)
            and for k = 1..K:
            ``social.<view>.<role>.hop{k}.nodes``: [B, W_k] long, sampled user index (0 where masked)
            ``social.<view>.<role>.hop{k}.mask``: [B, W_k] bool
            ``social.<view>.<role>.hop{k}.pre``: [B, W_k] long, the precursor (hop k-1 node or the seed)
            ``social.<view>.<role>.hop{k}.edge``: [B, W_k] long, edge id in that view (-1 where masked)
            ``social.<view>.<role>.hop{k}.feat``: [B, W_k, F_user] categorical features of the sampled node
        ``social.pair``: [B, V] float, 1.0 where (source, destination) is an edge of that view in the graph's
            window (before training), views in V order: the pair's exact interaction history (not limited by
            the fanout; TreeMS and its baselines currently use the sampled hop-1 indicators instead)
    Row 0 of ``encoder.user_cat`` (the padding user) is what masked slots get. Sampling is seeded by
    ``base_seed`` and a call counter, so an epoch's samples are reproducible.
    """

    def __init__(self, graph: HeteroGraph, encoder: FeatureEncoder, views: Sequence[str] | None = None,
                 fanouts: Sequence[int] = (10,), base_seed: int = 0) -> None:
        self.sampler = MultiViewSocialSampler(graph, views, fanouts)
        self.views = list(self.sampler.views)
        self.fanouts = list(fanouts)
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

    def keys(self) -> list[str]:
        """Every key ``__call__`` adds (fixed for a hook)."""
        out = ["social.src.seed_feat", "social.dst.seed_feat", "social.pair"]
        for v in self.views:
            for role in ("src", "dst"):
                out.append(f"social.{v}.{role}.seeds")
                for k in range(1, len(self.fanouts) + 1):
                    out += [f"social.{v}.{role}.hop{k}.{n}" for n in ("nodes", "mask", "pre", "edge", "feat")]
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
        sub = self.sampler.subgraph(src, dst, seed=seed)
        for key in [k for k in sub if k.endswith(".nodes")]:
            sub[key[: -len("nodes")] + "feat"] = torch.from_numpy(self.user_cat[sub[key].numpy()])
        sub["social.src.seed_feat"] = torch.from_numpy(self.user_cat[src])
        sub["social.dst.seed_feat"] = torch.from_numpy(self.user_cat[dst])
        sub["social.pair"] = torch.from_numpy(self.pair(src, dst))
        batch.subgraph.update(sub)
        return batch


def make_social_hook(root, encoder: FeatureEncoder, queries: QueryTable | None, params: dict,
                     graph_dir) -> SocialHook:
    """Build (or load the cached) graph of the dataset's training window and the multi-view social hook.

    ``params`` (the model's config): ``views`` (default: every social view of the graph), ``fanouts``."""
    from unisr.graph.build import build_or_load

    graph, _ = build_or_load(root, graph_dir)
    return SocialHook(graph, encoder, params.get("views"), params.get("fanouts", (10,)))


# model need -> hook factory
HOOKS = {"graph:srjgraph": make_srjgraph_hook, "graph:social": make_social_hook}
