"""Layers shared by TreeMS and its baselines (table 2 of Niu et al., WSDM'21): the input of eq. 3, the pair
history features (directed or symmetric), the initialisation rule of the ReLU stacks, and message passing over
the multi-view social forest (``unisr.graph.trees.social_forest``) for the GNN baselines.

Every sharing model reads the same ``graph:social`` sample as TreeMS (``unisr.graph.hooks.SocialHook``): a
``SocialSubgraph`` with both users' fields and, per view and role, the sampled neighbours (nodes, mask, feat).

The input of eq. 3, x = concat(u, v, t, c):
    u, v: the categorical user fields of the source and the destination user, one table shared by both and by
          every sampled neighbour (the GNN baselines replace them by their aggregated representations);
    t:    the pair's interaction history, then the event's usual feature vector (the shared item's fields and
          sequences, as every other ranker of unisr embeds it). ``pair_mode="directed"`` (default): per view r of
          ``pair_views`` (independent of the sampled ``views``), the social table's u -> v and v -> u rows in the
          graph window, direction and weight kept (pay_out vs pay_in, interaction and share counts): flags
          [u->v, v->u] and log(1 + summed weight) [u->v, v->u] (4 |pair_views|, ``directed_pair_features``).
          ``"symmetric"`` (the features before issue 33): per sampled view, whether (u, v) is an edge of the
          symmetrised unweighted graph (exact, the subgraph's ``pair``) and whether u is among v's sampled
          neighbours (2 |views| indicators, ``pair_indicators``);
    c:    the scenario context, a flat embedding of the scenario id (the baselines know no tree).

Shapes:
    ShareInput: batch -> ShareParts(u [B, Du], v [B, Du], t [B, Dt], c [B, Dc])
    pair_indicators: SocialSubgraph, src [B], dst [B] -> [B, 2 V]
    directed_pair_features: SocialSubgraph, views [P] -> [B, 4 P]
    GraphShareRanker: batch -> {"click": [B] logits}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor, nn

from unisr.data.batch import Batch
from unisr.data.features import FeatureSchema
from unisr.graph.hooks import SocialSpec
from unisr.graph.subgraph import SocialSubgraph, require
from unisr.graph.trees import Forest, social_forest
from unisr.nn.embedding import FeatureEmbedding, embedding_rows, sparse_gradients
from unisr.nn.entity import FieldEmbedding
from unisr.nn.init import he_init_
from unisr.nn.mlp import MLP

RELU_STACKS = ("mlp", "experts", "towers", "scenario_layers", "predict")


class ShareSettings(Protocol):
    """What the sharing layers read of a model config (``unisr.models.graph_configs.ShareConfig``)."""

    sparse_grad: bool | None
    views: list[str]
    scenario_dim: int
    pair_features: bool
    pair_mode: str
    pair_views: list[str]

    def sampler_spec(self) -> SocialSpec: ...


def share_sparse(schema: FeatureSchema, cfg: ShareSettings) -> bool:
    """Sparse embedding gradients for a sharing model: the one rule of ``unisr.nn.embedding``."""
    return sparse_gradients(embedding_rows(schema), cfg.sparse_grad)


def init_relu_stacks(model: nn.Module, init: str) -> nn.Module:
    """Apply ``ShareConfig.init`` to the model's ReLU stacks on x (the attributes named in ``RELU_STACKS``).

    Shapes:
        model -> the same model
    """
    if init == "he":
        for name in RELU_STACKS:
            part = getattr(model, name, None)
            if isinstance(part, nn.Module):
                he_init_(part)
    elif init != "torch":
        raise ValueError(f"init must be 'he' or 'torch', got {init!r}")
    return model


@dataclass
class ShareParts:
    """The four parts of eq. 3. Shapes: u, v [B, Du]; t [B, Dt]; c [B, Dc]."""

    u: Tensor
    v: Tensor
    t: Tensor
    c: Tensor

    def x(self, u: Tensor | None = None, v: Tensor | None = None) -> Tensor:
        """concat(u, v, t, c), optionally with u and v replaced (graph-augmented users)."""
        return torch.cat([self.u if u is None else u, self.v if v is None else v, self.t, self.c], 1)


def pair_indicators(sub: SocialSubgraph, views: list[str], src: Tensor, dst: Tensor) -> Tensor:
    """Per view: (u, v) is an edge, then v -> u. Shapes: src, dst [B] -> [B, 2 V] float, columns
    [u->v for each view, v->u for each view].

    u->v is exact (the whole graph window) when the subgraph has ``pair``; otherwise, and always for v->u,
    it is read from the sample: v among u's present hop-1 r-neighbours (u among v's)."""
    known = (dst > 0).unsqueeze(1)

    def sampled(role: str, other: Tensor) -> Tensor:
        cols = []
        for v in views:
            h = sub.neighbourhood(v, role).hops[0]
            cols.append(((h.nodes == other.unsqueeze(1)) & h.mask & known).any(1))
        return torch.stack(cols, 1).float()

    exact = sub.pair_history(views)
    fwd = exact.float() if exact is not None else sampled("src", dst)
    return torch.cat([fwd, sampled("dst", src)], 1)


def directed_pair_features(sub: SocialSubgraph, views: list[str]) -> Tensor:
    """The pair's directed, weighted history (``SocialSubgraph.directed_pairs``). Shapes: -> [B, 4 P] float,
    columns [u->v flag, v->u flag] for each view, then [log(1 + w(u->v)), log(1 + w(v->u))] for each view."""
    out, inn = sub.directed_pairs(views)
    return torch.cat([(out > 0).float(), (inn > 0).float(), torch.log1p(out), torch.log1p(inn)], 1)


class SocialSampling:
    """Mixin of every sharing model: the ``graph:social`` sampler it declares, and its typed sample.

    Shapes:
        social(batch) -> SocialSubgraph (a ValueError naming the model when the batch has none)
    """

    @classmethod
    def sampler_spec(cls, cfg: ShareSettings) -> SocialSpec:
        """The ``graph:social`` sampler this model needs, from its validated config."""
        return cfg.sampler_spec()

    def social(self, batch: Batch) -> SocialSubgraph:
        return require(batch.subgraph, SocialSubgraph, type(self).__name__, "graph:social")


class ShareInput(nn.Module):
    """Embeds a share impression into the parts of eq. 3.

    Shapes:
        batch (with a ``SocialSubgraph``) -> ShareParts(u [B, Du], v [B, Du], t [B, Dt], c [B, Dc])
        users(feat [..., F_user]) -> [..., Du]
    """

    def __init__(self, user_vocab: list[int], dim: int, features: FeatureEmbedding, num_scenarios: int,
                 scenario_dim: int, views: list[str], pair_features: bool = True, sparse: bool = False,
                 pair_mode: str = "symmetric", pair_views: list[str] | None = None) -> None:
        super().__init__()
        self.user_emb = FieldEmbedding(user_vocab, dim, sparse)
        self.features = features
        self.scenario_emb = nn.Embedding(num_scenarios, scenario_dim)
        nn.init.normal_(self.scenario_emb.weight, std=0.1)
        self.views = list(views)
        self.pair_features = pair_features
        if pair_mode not in ("directed", "symmetric"):
            raise ValueError(f"pair_mode must be 'directed' or 'symmetric', got {pair_mode!r}")
        self.pair_mode = pair_mode
        self.pair_views = list(pair_views if pair_views is not None else self.views)
        self.user_dim = self.user_emb.out_dim
        self.pair_dim = 0 if not pair_features else (
            4 * len(self.pair_views) if pair_mode == "directed" else 2 * len(self.views))
        self.t_dim = self.pair_dim + features.out_dim
        self.x_dim = 2 * self.user_dim + self.t_dim + scenario_dim

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg: ShareSettings) -> ShareInput:
        uf = [f for f in schema.sparse if f.table == "users"]
        sparse = share_sparse(schema, cfg)
        return cls([f.vocab_size for f in uf], uf[0].embed_dim, FeatureEmbedding(schema, sparse_grad=sparse),
                   schema.num_scenarios, cfg.scenario_dim, cfg.views, cfg.pair_features, sparse, cfg.pair_mode,
                   cfg.pair_views)

    def users(self, feat: Tensor) -> Tensor:
        return self.user_emb(feat)

    def forward(self, batch: Batch, model: str = "a sharing model") -> ShareParts:
        sub = require(batch.subgraph, SocialSubgraph, model, "graph:social")
        t = [self.features(batch)]
        if self.pair_features and self.pair_mode == "directed":
            t.insert(0, directed_pair_features(sub, self.pair_views))
        elif self.pair_features:
            dst = batch.target_user_index if batch.target_user_index is not None else torch.zeros_like(
                batch.user_index)
            t.insert(0, pair_indicators(sub, self.views, batch.user_index, dst))
        return ShareParts(self.users(sub.src_seed_feat), self.users(sub.dst_seed_feat),
                          torch.cat(t, 1), self.scenario_emb(batch.scenario_id))


# --------------------------------------------------------------------------------------- graph forest
def run_layers(forest: Forest, h0: list[Tensor], layers: nn.ModuleList, act: nn.Module | None = None) -> Tensor:
    """GraphSAGE-style mini-batch propagation: layer l updates levels 0..K-l from the level below.
    ``layers[l]((h_src, h_dst), edge_index)`` is a bipartite message-passing layer. Returns level 0 [N_0, D]."""
    h = h0
    for li, layer in enumerate(layers):
        nxt = []
        for k in range(forest.depth - li):
            out = layer((h[k + 1], h[k]), forest.edges[k])
            nxt.append(act(out) if act is not None else out)
        h = nxt
    return h[0]


def split_roles(h: Tensor) -> tuple[Tensor, Tensor]:
    """[2B, D] (sources then destinations) -> ([B, D], [B, D])."""
    b = h.shape[0] // 2
    return h[:b], h[b:]


class GraphShareRanker(SocialSampling, nn.Module):
    """Base of the GNN baselines: u and v of eq. 3 replaced by their representations after ``layers`` rounds of
    message passing over the homogeneous forest of the multi-view sample, then an MLP (one per model file).

    Shapes:
        batch (with a ``SocialSubgraph``) -> {"click": [B] logits}
        graph_users(batch) -> (u [B, Du], v [B, Du])
    """

    def __init__(self, inp: ShareInput, layers: nn.ModuleList, hidden: list[int], dropout: float = 0.0,
                 act: nn.Module | None = None) -> None:
        super().__init__()
        self.input = inp
        self.layers = layers
        self.act = act
        self.mlp = MLP(inp.x_dim, hidden, 1, dropout=dropout)

    def graph_users(self, batch: Batch) -> tuple[Tensor, Tensor]:
        forest = social_forest(self.social(batch), self.input.views, len(self.layers))
        h0 = [self.input.users(f) for f in forest.feats]
        return split_roles(run_layers(forest, h0, self.layers, self.act))

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        u, v = self.graph_users(batch)
        return {"click": self.mlp(self.input(batch, type(self).__name__).x(u, v)).squeeze(1)}
