"""The shared part of the GNN CTR baselines of SRJGraph's paper (GAT, HGT, NGCF, LightGCN; paper sec. 5.2):
node embeddings of SRJGraph's sampled trees (``unisr.graph.trees.build_trees``), the
``encode`` step each baseline defines, and the prediction head.

Paper sec. 5.3.1: "We sample neighbors as described in Section 4.2.2 for all GNN models", so the baselines read
the same ``batch.subgraph`` as SRJGraph (``unisr.graph.hooks.SRJGraphHook``, category filtering included), but
only the sampled nodes and their masks: the edge queries (``qtok``) and precursor features (``pre_feat``) are
SRJGraph's own upstream information and stay unused. The target query is a feature of the prediction.

Shapes:
    TreeGNNRanker: batch (subgraph a ``TargetAwareSubgraph``) -> {"click": [B] logits}
"""

from __future__ import annotations

from typing import Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unisr.data.batch import Batch
from unisr.data.features import FeatureSchema
from unisr.graph.hooks import TargetAwareSpec
from unisr.graph.subgraph import TargetAwareSubgraph, require
from unisr.graph.trees import SampledTrees, build_trees
from unisr.nn.embedding import embedding_rows, sparse_gradients
from unisr.nn.entity import NodeEmbedding, QueryEncoder, entity_encoders
from unisr.nn.mlp import MLP
from unisr.nn.routing import ScenarioGroups


class TreeGNNSettings(Protocol):
    """What ``TreeGNNRanker`` reads of a model config (``unisr.models.graph_configs.TreeGNNConfig``)."""

    sparse_grad: bool | None

    def sampler_spec(self) -> TargetAwareSpec: ...


class TreeGNNRanker(nn.Module):
    """Base of the GNN baselines: embeds the sampled nodes, calls ``encode`` and predicts.

    Prediction: MLP_task(h_u || e_q || h_p) -> click logit, one MLP for search and one for recommendation
    (routed with ``ScenarioGroups``, as SRJGraph's eq. 13); JSR joint form = these heads over shared embeddings
    and GNN layers, trained on both scenarios' data and graph.

    Shapes:
        batch (with a ``TargetAwareSubgraph`` from ``SRJGraphHook``) -> {"click": [B] logits}
    """

    def __init__(self, user_emb: NodeEmbedding, item_emb: NodeEmbedding, query_emb: QueryEncoder,
                 is_search: Tensor, user_widths: list[int], item_widths: list[int], out_dim: int,
                 mlp: list[int], dropout: float) -> None:
        super().__init__()
        self.user_emb, self.item_emb, self.query_emb = user_emb, item_emb, query_emb
        self.register_buffer("is_search", is_search, persistent=False)
        self.user_widths, self.item_widths = list(user_widths), list(item_widths)
        self.depth = max(len(user_widths), len(item_widths))
        ex = 2 * out_dim + query_emb.dim
        self.mlps = nn.ModuleList([MLP(ex, mlp, 1, dropout=dropout),  # recommendation
                                   MLP(ex, mlp, 1, dropout=dropout)])  # search

    @classmethod
    def sampler_spec(cls, cfg: TreeGNNSettings) -> TargetAwareSpec:
        """The ``graph:srjgraph`` sampler this model needs, from its validated config."""
        return cfg.sampler_spec()

    @staticmethod
    def inputs(schema: FeatureSchema, cfg: TreeGNNSettings) -> tuple[NodeEmbedding, NodeEmbedding,
                                                                        QueryEncoder, Tensor]:
        """Embeddings as SRJGraph's (eqs. 1-3, the same node fields and query encoder) and the search flag of
        each scenario."""
        sparse = sparse_gradients(embedding_rows(schema), cfg.sparse_grad)
        is_search = torch.tensor([k.startswith("search") for k in schema.scenario_kinds], dtype=torch.long)
        return (*entity_encoders(schema, sparse), is_search)

    @property
    def node_dims(self) -> dict[str, int]:
        return {"user": self.user_emb.out_dim, "item": self.item_emb.out_dim}

    def embed_typed(self, trees: SampledTrees) -> dict[str, Tensor]:
        """Node features per type in the type's own numbering: {"user": [N_user, du], "item": [N_item, dp]}.
        One embedding call per type: one dense table-sized gradient per type instead of one per block."""
        out = {}
        for t, emb in (("user", self.user_emb), ("item", self.item_emb)):
            out[t] = emb(torch.cat([f for bt, f in trees.blocks if bt == t]))
        return out

    def embed_blocks(self, trees: SampledTrees) -> list[Tensor]:
        """Each block's node features (e_u [n, du] or e_p [n, dp]) in node order (``split`` of the per-type
        embeddings: its backward concatenates, where slicing would zero-fill a full-size tensor per block)."""
        typed = self.embed_typed(trees)
        parts = {t: list(typed[t].split([f.shape[0] for bt, f in trees.blocks if bt == t])) for t in typed}
        return [parts[t].pop(0) for t, _ in trees.blocks]

    def embed_homogeneous(self, trees: SampledTrees) -> tuple[Tensor, Tensor]:
        """One feature space for both types without any learned map: a user node is e_u || 0, an item node
        0 || e_p (the layout SRJGraph's eq. 11 uses). Returns (all nodes [N, du + dp] hop-major, the seeds
        [2B, du + dp]: the seed users then the seed items)."""
        du, dp = self.node_dims["user"], self.node_dims["item"]
        out = [F.pad(e, (0, dp) if t == "user" else (du, 0))
               for (t, _), e in zip(trees.blocks, self.embed_blocks(trees), strict=True)]
        return torch.cat(out, 0), torch.cat(out[:2], 0)

    def encode(self, trees: SampledTrees) -> tuple[Tensor, Tensor]:
        """(seed user representation [B, out_dim], seed item representation [B, out_dim])."""
        raise NotImplementedError

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        sub = require(batch.subgraph, TargetAwareSubgraph, type(self).__name__, "graph:srjgraph")
        sub.check_widths(type(self).__name__, self.user_widths, self.item_widths)
        h_u, h_p = self.encode(build_trees(sub))
        x = torch.cat([h_u, self.query_emb(batch), h_p], -1)
        task = self.is_search[batch.scenario_id]
        logit = ScenarioGroups(task).apply(x, lambda t, z: self.mlps[t](z)).squeeze(1)
        return {"click": logit}
