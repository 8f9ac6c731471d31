"""Pieces shared by TreeMS's baselines (table 2 of Niu et al., WSDM'21): the input of eq. 3 and the multi-view
social sample as one homogeneous forest for the GNN baselines.

Every baseline reads the same ``graph:social`` hook keys as TreeMS (``unisr.graph.hooks.SocialHook``):
``social.{src,dst}.seed_feat`` and ``social.<view>.<src|dst>.hop{k}.{nodes,mask,feat}``.

The input of eq. 3, x = concat(u, v, t, c):
    u, v: the categorical user fields of the source and the destination user, one table shared by both and by
          every sampled neighbour (the GNN baselines replace them by their aggregated representations);
    t:    the pair's interaction history: per view r, whether (u, v) is an r-edge of the graph window (exact, the
          hook's ``social.pair``) and whether u is among v's sampled r-neighbours (2 |views| indicators), plus
          the event's usual feature vector (the shared item's fields and sequences, as every other ranker of
          unisr embeds it);
    c:    the scenario context, a flat embedding of the scenario id (the baselines know no tree).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from unisr.data.batch import Batch
from unisr.data.features import FeatureSchema
from unisr.models.registry import RankerConfig
from unisr.models.srjgraph import FieldEmbedding
from unisr.nn.embedding import SPARSE_AUTO_ROWS, FeatureEmbedding
from unisr.nn.init import he_init_
from unisr.nn.mlp import MLP

DEFAULT_VIEWS = ["friend", "pay", "share"]  # the paper's three views (sec. 4.1.1)
# every baseline trains as TreeMS does (one protocol for table 2): share scenarios only, Adagrad (sec. 3.5)
# TreeMS paper: AdaGrad, lr not given. lr 0.1 chosen on the validation split of sim-small (TreeMS, seed 1,
# 2 epochs: valid AUC 0.689 at lr 0.1 vs 0.352 at lr 0.01, where the ranking stays as initialised); every
# sharing model uses the same setting so the comparison stays fair
SHARE_DEFAULTS = {"train": {"optimizer": "adagrad", "lr": 0.1, "weight_decay": 1e-6},
                  "data": {"scenario_kinds": ["share"], "batch_size": 1024}}


class ShareConfig(RankerConfig):
    """Hyper-parameters every sharing baseline has. ``views`` and ``fanouts`` are read by the hook."""

    views: list[str] = list(DEFAULT_VIEWS)
    fanouts: list[int] = [10]  # neighbours per hop and view; len(fanouts) = number of GNN layers
    scenario_dim: int = 16
    pair_features: bool = True  # t's 2 |views| indicators: (u, v) an r-edge, u in v's sampled r-neighbours
    hidden: list[int] = [256, 128, 64]
    dropout: float = 0.0
    # the ReLU stacks on x (MLPs, experts, towers, prediction layer): "he" = N(0, 2/fan_in), zero biases;
    # "torch" = nn.Linear's default, whose signal shrinks ~6^(-L/2) through L ReLU layers (TreeMS: 7 layers,
    # 7 epochs at the base-rate loss, logits std 0.003 at epoch 2; docs/models/treems.md). Same rule for every
    # sharing model so table 2 stays a like-for-like comparison. Gates, attention and meta networks keep theirs.
    init: Literal["he", "torch"] = "he"


RELU_STACKS = ("mlp", "experts", "towers", "scenario_layers", "predict")


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


def use_sparse(schema: FeatureSchema, cfg: RankerConfig) -> bool:
    if cfg.sparse_grad is not None:
        return bool(cfg.sparse_grad)
    return sum(f.vocab_size for f in schema.sparse) + sum(f.vocab_size for f in schema.sequences) >= SPARSE_AUTO_ROWS


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


def pair_indicators(sub: dict[str, Tensor], views: list[str], src: Tensor, dst: Tensor) -> Tensor:
    """Per view: (u, v) is an edge, then v -> u. Shapes: src, dst [B] -> [B, 2 V] float, columns
    [u->v for each view, v->u for each view].

    u->v is exact (the whole graph window) when the hook gives ``social.pair``; otherwise, and always for v->u,
    it is read from the sample: v among u's present hop-1 r-neighbours (u among v's)."""
    known = (dst > 0).unsqueeze(1)

    def sampled(role: str, other: Tensor) -> Tensor:
        cols = []
        for v in views:
            h = f"social.{v}.{role}.hop1"
            cols.append(((sub[f"{h}.nodes"] == other.unsqueeze(1)) & sub[f"{h}.mask"] & known).any(1))
        return torch.stack(cols, 1).float()

    fwd = sub["social.pair"].float() if "social.pair" in sub else sampled("src", dst)
    return torch.cat([fwd, sampled("dst", src)], 1)


class ShareInput(nn.Module):
    """Embeds a share impression into the parts of eq. 3.

    Shapes:
        batch (with ``graph:social`` keys) -> ShareParts(u [B, Du], v [B, Du], t [B, Dt], c [B, Dc])
        users(feat [..., F_user]) -> [..., Du]
    """

    def __init__(self, user_vocab: list[int], dim: int, features: FeatureEmbedding, num_scenarios: int,
                 scenario_dim: int, views: list[str], pair_features: bool = True, sparse: bool = False) -> None:
        super().__init__()
        self.user_emb = FieldEmbedding(user_vocab, dim, sparse)
        self.features = features
        self.scenario_emb = nn.Embedding(num_scenarios, scenario_dim)
        nn.init.normal_(self.scenario_emb.weight, std=0.1)
        self.views = list(views)
        self.pair_features = pair_features
        self.user_dim = self.user_emb.out_dim
        self.t_dim = (2 * len(self.views) if pair_features else 0) + features.out_dim
        self.x_dim = 2 * self.user_dim + self.t_dim + scenario_dim

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg: ShareConfig) -> ShareInput:
        uf = [f for f in schema.sparse if f.table == "users"]
        sparse = use_sparse(schema, cfg)
        return cls([f.vocab_size for f in uf], uf[0].embed_dim, FeatureEmbedding(schema, sparse_grad=sparse),
                   schema.num_scenarios, cfg.scenario_dim, cfg.views, cfg.pair_features, sparse)

    def users(self, feat: Tensor) -> Tensor:
        return self.user_emb(feat)

    def forward(self, batch: Batch) -> ShareParts:
        sub = batch.subgraph
        if "social.src.seed_feat" not in sub:
            raise ValueError("sharing models need batch.subgraph from the graph:social hook "
                             "(unisr.graph.hooks.SocialHook)")
        t = [self.features(batch)]
        if self.pair_features:
            dst = batch.target_user_index if batch.target_user_index is not None else torch.zeros_like(
                batch.user_index)
            t.insert(0, pair_indicators(sub, self.views, batch.user_index, dst))
        return ShareParts(self.users(sub["social.src.seed_feat"]), self.users(sub["social.dst.seed_feat"]),
                          torch.cat(t, 1), self.scenario_emb(batch.scenario_id))


# --------------------------------------------------------------------------------------- graph forest
@dataclass
class Forest:
    """The multi-view samples of the 2B seeds (B sources then B destinations) as one homogeneous forest:
    level 0 the seeds, level k (k >= 1) every view's hop-k slots, flattened in (seed, view, slot) order.
    Masked slots have no edge, so they never reach a seed.

    Shapes:
        feats[k]: [N_k, F_user] (N_0 = 2B, N_k = 2B * V * W_k)
        edges[k-1]: [2, E_k] long, (source slot in level k, target in level k-1), sorted by target
    """

    feats: list[Tensor]
    edges: list[Tensor]

    @property
    def depth(self) -> int:
        return len(self.edges)


def social_forest(sub: dict[str, Tensor], views: list[str], depth: int) -> Forest:
    """Build the forest from the hook's keys (``depth`` hops)."""
    seeds = torch.cat([sub["social.src.seed_feat"], sub["social.dst.seed_feat"]], 0)
    n_seed = seeds.shape[0]
    feats, edges = [seeds], []
    prev_w = 1
    nv = len(views)
    for k in range(1, depth + 1):
        f = torch.stack([torch.cat([sub[f"social.{v}.src.hop{k}.feat"], sub[f"social.{v}.dst.hop{k}.feat"]], 0)
                         for v in views], 1)  # [2B, V, W_k, F]
        m = torch.stack([torch.cat([sub[f"social.{v}.src.hop{k}.mask"], sub[f"social.{v}.dst.hop{k}.mask"]], 0)
                         for v in views], 1)  # [2B, V, W_k]
        w = f.shape[2]
        fan = w // prev_w
        b = torch.arange(n_seed).view(-1, 1, 1)
        r = torch.arange(nv).view(1, -1, 1)
        j = torch.arange(w).view(1, 1, -1)
        target = b.expand_as(m) if k == 1 else (b * nv * prev_w + r * prev_w + j // fan).expand_as(m)
        flat_m = m.reshape(-1)
        source = torch.arange(flat_m.numel())[flat_m]
        edges.append(torch.stack([source, target.reshape(-1)[flat_m]]))
        feats.append(f.reshape(-1, f.shape[-1]))
        prev_w = w
    return Forest(feats, edges)


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


class GraphShareRanker(nn.Module):
    """Base of the GNN baselines: u and v of eq. 3 replaced by their representations after ``layers`` rounds of
    message passing over the homogeneous forest of the multi-view sample, then an MLP (one per model file).

    Shapes:
        batch (with ``graph:social`` keys) -> {"click": [B] logits}
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
        forest = social_forest(batch.subgraph, self.input.views, len(self.layers))
        h0 = [self.input.users(f) for f in forest.feats]
        return split_roles(run_layers(forest, h0, self.layers, self.act))

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        u, v = self.graph_users(batch)
        return {"click": self.mlp(self.input(batch).x(u, v)).squeeze(1)}
