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
from unisr.graph.samplers.target_aware import TargetAwareSampler
from unisr.graph.store import HeteroGraph


class SRJGraphHook:
    """SRJGraph's forward multi-order sampling for each target (u, q, p) of a batch.

    Adds, for side in (``srj_user``, ``srj_item``) and hop k = 1..K:
        ``{side}.hop{k}.feat``: [B, W_k, F_type] categorical feature indices of the sampled node
        ``{side}.hop{k}.pre_feat``: [B, W_k, F_pretype] those of its precursor
        ``{side}.hop{k}.qtok``: [B, W_k, Lq] query tokens on the edge to the precursor (0 = empty query)
        ``{side}.hop{k}.mask``: [B, W_k] bool
    and ``srj_user.seed_feat`` [B, F_user], ``srj_item.seed_feat`` [B, F_item].
    The sampler's seed is ``base_seed`` + a counter, so an epoch's samples are reproducible.
    """

    def __init__(self, graph: HeteroGraph, encoder: FeatureEncoder, queries: QueryTable | None,
                 user_widths: Sequence[int] = (25, 1, 10), item_widths: Sequence[int] = (1, 25, 1),
                 category_filter: bool = True, base_seed: int = 0) -> None:
        self.sampler = TargetAwareSampler(graph, user_widths, item_widths, category_filter)
        self.feats = {"user": encoder.user_cat, "item": encoder.item_cat}
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
        ub, ib = self.sampler.sample(users, items, seed=seed)
        sub: dict[str, torch.Tensor] = {
            "srj_user.seed_feat": torch.from_numpy(self.feats["user"][users]),
            "srj_item.seed_feat": torch.from_numpy(self.feats["item"][items]),
        }
        for side, blocks, start in (("srj_user", ub, "user"), ("srj_item", ib, "item")):
            prev_type = start
            for k, ntype in enumerate(blocks.node_types):
                h = f"{side}.hop{k + 1}"
                nodes = blocks.nodes[k].numpy()
                pre = blocks.pre[k].numpy()
                q = blocks.extra["query"][k].numpy()
                sub[f"{h}.feat"] = torch.from_numpy(self.feats[ntype][nodes])
                sub[f"{h}.pre_feat"] = torch.from_numpy(self.feats[prev_type][pre])
                sub[f"{h}.qtok"] = torch.from_numpy(self.query_tokens[q])
                sub[f"{h}.mask"] = blocks.mask[k]
                prev_type = ntype
        batch.subgraph.update(sub)
        return batch


def make_srjgraph_hook(root, encoder: FeatureEncoder, queries: QueryTable | None, params: dict,
                       graph_dir) -> SRJGraphHook:
    """Build (or load the cached) graph of the dataset's training window and the SRJGraph hook."""
    from unisr.graph.build import build_or_load

    graph, _ = build_or_load(root, graph_dir)
    return SRJGraphHook(graph, encoder, queries, params.get("user_widths", (25, 1, 10)),
                        params.get("item_widths", (1, 25, 1)), params.get("category_filter", True))


# model need -> hook factory
HOOKS = {"graph:srjgraph": make_srjgraph_hook}
