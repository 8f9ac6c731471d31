"""nn/tree_gnn.py: the shared part of SRJGraph's GNN baselines (embeddings, homogeneous layout, the head), the
dense-vs-sparse rule, the sampler spec from the config, and the error without the sample."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

import srj_tree_cases as cases
from unisr.graph.hooks import TargetAwareSpec
from unisr.graph.trees import SampledTrees, build_trees
from unisr.models.graph_configs import TreeGNNConfig
from unisr.nn.embedding import SPARSE_AUTO_ROWS
from unisr.nn.tree_gnn import TreeGNNRanker


class SeedsOnly(TreeGNNRanker):
    """The smallest GNN: the seeds' own embeddings (no message passing)."""

    def encode(self, trees: SampledTrees) -> tuple[Tensor, Tensor]:
        b = trees.batch_size
        _, seeds = self.embed_homogeneous(trees)
        return seeds[:b], seeds[b:]


def build(cfg: TreeGNNConfig) -> SeedsOnly:
    schema = cases.schema()
    user, item, query, is_search = TreeGNNRanker.inputs(schema, cfg)
    return SeedsOnly(user, item, query, is_search, cfg.user_widths, cfg.item_widths,
                     user.out_dim + item.out_dim, [8], 0.0)


def test_homogeneous_layout_and_prediction():
    cfg = TreeGNNConfig(user_widths=cases.UW, item_widths=cases.IW, sparse_grad=False)
    net = build(cfg)
    b = cases.batch()
    trees = build_trees(b.subgraph)
    x, seeds = net.embed_homogeneous(trees)
    du, dp = net.node_dims["user"], net.node_dims["item"]
    assert x.shape == (trees.n_upto[-1], du + dp) and seeds.shape == (16, du + dp)
    assert torch.equal(seeds[:8, du:], torch.zeros(8, dp)) and torch.equal(seeds[8:, :du], torch.zeros(8, du))
    assert torch.allclose(seeds[:8, :du], net.user_emb(b.subgraph.user_seed_feat))
    out = net(b)["click"]
    assert out.shape == (8,) and torch.isfinite(out).all()


def test_one_sparse_rule_and_the_override():
    schema = cases.schema()  # a few hundred rows: dense below SPARSE_AUTO_ROWS
    assert sum(f.vocab_size for f in schema.sparse) < SPARSE_AUTO_ROWS
    assert not TreeGNNRanker.inputs(schema, TreeGNNConfig())[0].fields.tables[0].sparse
    assert TreeGNNRanker.inputs(schema, TreeGNNConfig(sparse_grad=True))[0].fields.tables[0].sparse


def test_sampler_spec_and_missing_sample():
    cfg = TreeGNNConfig(user_widths=[4, 2], temporal=False)
    assert SeedsOnly.sampler_spec(cfg) == TargetAwareSpec((4, 2), (1, 25, 1), True, False)
    net = build(TreeGNNConfig(user_widths=cases.UW, item_widths=cases.IW, sparse_grad=False))
    b = cases.batch()
    b.subgraph = None
    with pytest.raises(ValueError, match="model SeedsOnly needs batch.subgraph: a TargetAwareSubgraph"):
        net(b)
