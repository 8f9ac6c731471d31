"""MIND (Multi-Interest Network with Dynamic routing, Li et al., CIKM'19, Tmall) as a matching model, one of
SASS's table 2 baselines (Zhang et al., CIKM'22).

User side: the behaviour sequence (``data.history_len`` = 50 last clicks) embedded by the item tower's field
embeddings, routed into K interest capsules by B2I dynamic routing (``nn/capsule.py:B2IRouting``: 3 iterations,
squash, one shared bilinear map S, random untrained initial logits, K'_u = max(1, min(K, log2 |I_u|)) interests),
each capsule concatenated with the user's profile fields and passed through the ReLU layers ("H-layers"): the
user's K interest vectors V_u. Item side: DSSM's item MLP over the item fields. Score: inner product.

Training (``self.training``): label-aware attention over the K vectors with the row's target item,
v_u = V_u softmax(pow(V_u^T e_i, p)), p = 2 (``nn/capsule.py:label_aware_attention``), and
``train/matching.py``'s sampled softmax with logQ on v_u (the paper's sampled softmax). Serving and evaluation
(eval mode): ``user_vectors`` returns the K vectors [B, K, d]; each one retrieves its top-k from the index and
the lists are merged by score (``index/faiss_index.py:search`` on [Q, K, d] queries), which equals the top-k of
max_k <v_k, e_i> over the corpus (the full-sort metrics). A user's masked interests (k >= K'_u) are copies of
its first one, so they retrieve nothing new.

Single- and mix-scenario are data selections (see ``models/bst.py``); the scenario is no input unless
``scenario_embed_dim`` > 0.

Shapes:
    user_vectors(batch) -> [B, dim] (training: label-aware) or [B, K, dim] (eval: the K interests)
    interests(batch) -> (V_u [B, K, dim], interest_mask [B, K] bool); item_vectors(item_index [N], scenario [N])
        -> [N, dim]
    forward(batch) -> {"click": [B] max over interests of <v_k, e_item> of the batch's own (user, item)}
"""

from __future__ import annotations

import math

import torch
from pydantic import Field, field_validator
from torch import Tensor, nn

from unisr.data.batch import Batch
from unisr.data.features import FeatureEncoder, FeatureSchema
from unisr.models.registry import ModelConfig, register_model
from unisr.nn.capsule import B2IRouting, label_aware_attention
from unisr.nn.mlp import MLP
from unisr.nn.sequence import ItemBehaviours
from unisr.nn.two_tower import ItemFeatureTable, TableFields


class MINDConfig(ModelConfig):
    dim: int = Field(64, ge=1)  # user / item vector dimension (the suite's 64)
    capsule_dim: int = Field(64, ge=1)  # interest capsule width (S maps behaviours to it)
    interests: int = Field(4, ge=1)  # K (the paper sweeps K; not one value)
    dynamic_interests: bool = True  # K'_u = max(1, min(K, log2 |I_u|)) (paper eq. 9); False = always K
    iterations: int = Field(3, ge=1)  # routing iterations r (paper: 3)
    routing_sigma: float = Field(1.0, gt=0)  # std of the random initial routing logits (paper: N(0, sigma^2))
    pow_p: float = Field(2.0, ge=0)  # label-aware attention power p (paper's default 2; inf = hard attention)
    positions: int = Field(50, ge=1)  # rows of the initial-logit buffer (the sequence length 50)
    hidden: list[int] = [256, 128]  # the H-layers over [capsule, profile] and the item MLP (DSSM's)
    scenario_embed_dim: int = Field(0, ge=0)  # 0 = the scenario is no input (the paper's MIND)
    # init std of the user / item field embeddings; None = each table's dim^-0.5 (YoutubeDNN's); 1e-4 =
    # FeatureEmbedding's default, under which the behaviours stay indistinguishable (docs/models/matching_baselines.md)
    embed_init_std: float | None = Field(None, gt=0)
    sparse_grad: bool | None = None  # as RankerConfig: None = by table size

    @field_validator("pow_p")
    @classmethod
    def _integer_power(cls, v: float) -> float:
        if not math.isinf(v) and v != int(v):
            raise ValueError(f"must be a whole number or inf (a power of a signed score), got {v}")
        return v


@register_model("mind", config=MINDConfig, task="matching",
                paper="Li et al., CIKM'19 (MIND: multi-interest network with dynamic routing)",
                needs=("sparse", "history"),
                defaults={"train": {"monitor": "recall@50",
                                    "matching": {"loss": "softmax", "negatives": "shared", "logq": True,
                                                 "temperature": 1.0}},
                          "data": {"history_len": 50}})
class MIND(nn.Module):
    """MIND: B2I capsule routing into K interests + label-aware attention; DSSM's item MLP; inner product.

    Shapes:
        user_vectors(batch) -> [B, dim] in training, [B, K, dim] in eval; item_vectors(...) -> [N, dim]
    """

    scenario_items = False  # one item vector for every scenario

    def __init__(self, schema: FeatureSchema, cfg: MINDConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.user_fields = TableFields(schema, "users", sparse_grad=cfg.sparse_grad)
        self.item_fields = TableFields(schema, "items", sparse_grad=cfg.sparse_grad)
        self.items = ItemFeatureTable(schema, self.item_fields)
        self.behaviours = ItemBehaviours(self.item_fields, self.items, cfg.capsule_dim)
        self.routing = B2IRouting(cfg.capsule_dim, cfg.capsule_dim, cfg.interests, iterations=cfg.iterations,
                                  positions=cfg.positions, sigma=cfg.routing_sigma, dynamic=cfg.dynamic_interests)
        self.scenario_emb = (nn.Embedding(schema.num_scenarios, cfg.scenario_embed_dim)
                             if cfg.scenario_embed_dim else None)
        self.h_layers = MLP(cfg.capsule_dim + self.user_fields.out_dim + cfg.scenario_embed_dim, cfg.hidden, cfg.dim)
        self.item_mlp = MLP(self.item_fields.out_dim, cfg.hidden, cfg.dim)
        for table in (*self.user_fields.modules(), *self.item_fields.modules()):
            if isinstance(table, nn.Embedding):
                nn.init.normal_(table.weight, std=cfg.embed_init_std or table.embedding_dim ** -0.5)

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg: MINDConfig) -> MIND:
        return cls(schema, cfg)

    def attach_items(self, encoder: FeatureEncoder) -> None:
        """The corpus' item features (persistent buffers: saved with the weights)."""
        self.items.attach(encoder.item_cat, encoder.item_dense)

    def interests(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """The K interest vectors after the H-layers and which of them the user has (K'_u)."""
        caps, imask = self.routing(*self.behaviours(batch))
        profile = [self.user_fields(*self.user_fields.columns(batch))]
        if self.scenario_emb is not None:
            profile.append(self.scenario_emb(batch.scenario_id))
        p = torch.cat(profile, 1).unsqueeze(1).expand(-1, caps.shape[1], -1)
        return self.h_layers(torch.cat([caps, p], 2)), imask

    def serving_vectors(self, batch: Batch) -> Tensor:
        """[B, K, dim]: the interests, a masked one replaced by the user's first (adds nothing to a max)."""
        v, imask = self.interests(batch)
        return torch.where(imask.unsqueeze(2), v, v[:, :1].expand_as(v))

    def user_vectors(self, batch: Batch) -> Tensor:
        if not self.training:
            return self.serving_vectors(batch)
        v, imask = self.interests(batch)
        target = self.item_vectors(batch.item_index, batch.scenario_id)
        return label_aware_attention(v, target, imask, self.cfg.pow_p)[0]

    def item_vectors(self, item_index: Tensor, scenario: Tensor) -> Tensor:
        del scenario  # one item vector for every scenario
        return self.item_mlp(self.item_fields(*self.items.lookup(item_index)))

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        v = self.serving_vectors(batch)
        e = self.item_vectors(batch.item_index, batch.scenario_id)
        return {"click": torch.einsum("bkd,bd->bk", v, e).max(1).values}
