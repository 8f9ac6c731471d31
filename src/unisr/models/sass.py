"""SASS (Zhang et al., CIKM'22, "Scenario-Adaptive and Self-Supervised Model for Multi-Scenario Personalized
Recommendation"): a matching model whose user and item towers are built symmetrically from a global shared
network and one ML-SAT per scenario (``nn/scenario_gate.py``), so every user and every item gets one vector per
scenario (``scenario_items = True``: the corpus is embedded and indexed per scenario).

Inputs. User side: the user table's fields (``user_id`` and the profile fields, e.g. gender, age level), the
user's statistics (``event.count.user.*`` counters, when the dataset has them) and the behaviour sequence
(``data.history_len`` = 50 last clicks, restricted to the clicks made in the row's scenario with
``history_scope="scenario"``), each behaviour embedded by the item side's field embeddings (shared with the item
tower) and pooled by self-attention. Item side: the item table's fields (``item_id``, brand, shop, price level
and its dense fields). Scenario context: the scenario id, through each tower's auxiliary network (eq. 2).

Training is two stages, declared by ``training_stages`` and run by ``train/matching.py:train_matching``:
contrastive pre-training (eqs. 9-10, ``train/sass.py:ContrastivePretrain``) on every impression (clicked or not),
then fine-tuning restored from it (eqs. 11-13, ``train/sass.py:ScenarioPairwiseFinetune``). Serving uses the
scenario outputs only (``user_vectors`` / ``item_vectors``); the global outputs are for the auxiliary loss.

Shapes:
    user_vectors(batch) -> [B, dim]; item_vectors(item_index [N], scenario [N]) -> [N, dim] (L2-normalised)
    user_views(batch) / item_views(item_index, scenario) -> (scenario output [., dim], global output [., dim])
    forward(batch) -> {"click": [B] cosine of the batch's own (user, item) in the row's scenario}
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from unisr.data.batch import Batch
from unisr.data.features import FeatureEncoder, FeatureSchema
from unisr.models.registry import ModelConfig, register_model
from unisr.nn.scenario_gate import GateKind, ScenarioAdaptiveTower, SelfAttentionPooling
from unisr.nn.two_tower import ItemFeatureTable, TableFields

ITEM_CATEGORY = "item.category_path"  # the item sequence field of the category levels (FeatureEncoder.item_seq)
USER_STATS_PREFIX = "event.count.user."  # the user's own counters (not user_item: those depend on the item)


class SASSConfig(ModelConfig):
    dim: int = Field(64, ge=1)  # vector / layer width (paper: not stated)
    layers: int = Field(3, ge=1)  # ML-SAT layers (paper: 3, fig. 6)
    gate: GateKind = "adaptive"  # eqs. 3-6; none = SASS*, production / simnet / sigmoid = table 3's ablations
    fusion: bool = True  # scenario bias fusion eqs. 7-8 (table 6 ablation: False)
    scenario_embed_dim: int = Field(16, ge=1)  # x_a of eq. 2 (paper: not stated)
    bounded_aux: bool = False  # tanh on a (eq. 2's MLP output; paper: an MLP, no output activation stated)
    heads: int = Field(2, ge=1)  # self-attention pooling heads (paper: not stated)
    history_scope: Literal["scenario", "all"] = "scenario"  # behaviours of the row's scenario (paper) or all
    item_category: bool = True  # the item's category path levels as item fields (paper: "item category ID")
    user_stats: bool = True  # event.count.user.* as user statistic features (paper: "user statistic characteristics")
    # ---- the two training stages (read by train/sass.py)
    pretrain: bool = True  # False = SASS-Base (fine-tuning only)
    pretrain_epochs: int = Field(10, ge=1)  # paper: not stated (10: measured in docs/models/sass.md)
    pretrain_batch_rows: int = Field(8192, ge=2)  # impressions read per pre-training step, pairs drawn from them
    pretrain_pairs: int = Field(512, ge=1)  # N positive pairs per step (paper: batch size 512)
    temperature: float = Field(0.1, gt=0)  # tau of eq. 9 (paper: not stated; SimCLR's 0.1)
    beta: float = Field(1.0, ge=0)  # weight of the global auxiliary loss, eq. 13 (paper: not stated)
    # eq. 11-12's pairwise loss (paper) or, a deviation for comparison, the in-batch sampled softmax + logQ of
    # MatchingObjective (temperature / logq from train.matching) on the scenario and the global outputs
    finetune_loss: Literal["pairwise", "softmax"] = "pairwise"
    negatives: int = Field(1, ge=1)  # sampled negatives per (user, positive) triplet, eq. 11 (paper: 1)
    negative_power: float = Field(0.75, ge=0)  # word2vec's unigram^0.75 negative sampling (paper: ref. [23])
    sparse_grad: bool | None = None  # as RankerConfig: None = by table size


@register_model("sass", config=SASSConfig, task="matching",
                paper="Zhang et al., CIKM'22 (SASS: scenario-adaptive gates + contrastive pre-training)",
                needs=("sparse", "scenario", "history"),
                defaults={"train": {"monitor": "scenarios.*.ndcg@20", "lr": 0.001, "optimizer": "adam"},
                          "data": {"batch_size": 8192, "history_len": 50}})
class SASS(nn.Module):
    """SASS two towers: global shared network + per-scenario ML-SAT on both sides, vectors per scenario.

    Shapes:
        user_vectors(batch) -> [B, dim]; item_vectors(item_index [N], scenario [N]) -> [N, dim]
    """

    scenario_items = True  # every item has one vector per scenario: the corpus is embedded per scenario

    def __init__(self, schema: FeatureSchema, cfg: SASSConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.user_fields = TableFields(schema, "users", sparse_grad=cfg.sparse_grad)
        self.item_fields = TableFields(schema, "items", sparse_grad=cfg.sparse_grad)
        self.items = ItemFeatureTable(schema, self.item_fields)
        # the item's category path (the paper's "item category ID"): one embedding per level, concatenated
        cat = next((q for q in schema.sequences if q.name == ITEM_CATEGORY and q.table == "items"), None)
        self.cat_len = cat.max_len if cat is not None and cfg.item_category else 0
        self.category = nn.Embedding(cat.vocab_size, cat.embed_dim, padding_idx=0) if self.cat_len else None
        self.register_buffer("item_category", torch.zeros(schema.num_items + 1, max(self.cat_len, 1),
                                                          dtype=torch.long))
        item_in = self.item_fields.out_dim + (self.cat_len * cat.embed_dim if self.cat_len else 0)
        self.stat_cols = ([i for i, d in enumerate(schema.dense) if d.startswith(USER_STATS_PREFIX)]
                          if cfg.user_stats else [])
        self.behaviour_proj = nn.Linear(item_in, cfg.dim)
        self.behaviour_scenario = nn.Embedding(schema.num_scenarios, cfg.dim)
        nn.init.normal_(self.behaviour_scenario.weight, std=1e-2)
        self.pool = SelfAttentionPooling(cfg.dim, cfg.heads)
        u_in = self.user_fields.out_dim + len(self.stat_cols) + cfg.dim
        kw = {"scenario_embed_dim": cfg.scenario_embed_dim, "gate": cfg.gate, "fusion": cfg.fusion,
              "bounded_aux": cfg.bounded_aux}
        self.user_tower = ScenarioAdaptiveTower(u_in, schema.num_scenarios, cfg.dim, cfg.layers, **kw)
        self.item_tower = ScenarioAdaptiveTower(item_in, schema.num_scenarios, cfg.dim, cfg.layers, **kw)

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg: SASSConfig) -> SASS:
        return cls(schema, cfg)

    def attach_items(self, encoder: FeatureEncoder) -> None:
        """The corpus' item features (persistent buffers: saved with the weights)."""
        self.items.attach(encoder.item_cat, encoder.item_dense)
        seq = getattr(encoder, "item_seq", {}).get(ITEM_CATEGORY)
        if self.cat_len and seq is not None:
            ids, mask = (np.asarray(x) for x in seq)
            ids = np.where(mask, ids, 0)[:, :self.cat_len]
            self.item_category.zero_()
            self.item_category[:, :ids.shape[1]] = torch.as_tensor(ids.astype(np.int64))

    def item_input(self, item_index: Tensor) -> Tensor:
        """The item side's input x_v: item fields (+ the category path levels): [N, item_in]."""
        x = self.item_fields(*self.items.lookup(item_index))
        if self.category is None:
            return x
        return torch.cat([x, self.category(self.item_category[item_index]).flatten(1)], 1)

    def training_stages(self) -> list[dict]:
        """The run's stages, in order (``train/matching.py:train_matching``): each names its objective
        (``module:Class``), the config keys it overrides, whether it validates; the last one is the run itself."""
        c = self.cfg
        stages = []
        if c.pretrain:
            stages.append({"name": "pretrain", "objective": "unisr.train.sass:ContrastivePretrain",
                           "sets": {"train.epochs": c.pretrain_epochs, "data.batch_size": c.pretrain_batch_rows},
                           "evaluate": False})
        stages.append({"name": "finetune", "objective": "unisr.train.sass:ScenarioPairwiseFinetune",
                       "sets": {}, "evaluate": True})
        return stages

    # ------------------------------------------------------------------ inputs
    def behaviours(self, batch: Batch) -> Tensor:
        """The behaviour sequence pooled by self-attention: [B, dim] (zeros without any behaviour)."""
        b = len(batch)
        if "history" not in batch.sequences:
            return batch.dense.new_zeros((b, self.cfg.dim))
        ids, mask = batch.sequences["history"]
        scen = batch.sequences.get("history_scenario", (torch.zeros_like(ids), mask))[0]
        scen = scen.clamp(0, self.behaviour_scenario.num_embeddings - 1)
        if self.cfg.history_scope == "scenario":
            mask = mask & (scen == batch.scenario_id[:, None])
        ids = ids.clamp(0, self.items.sparse.shape[0] - 1)
        h = self.behaviour_proj(self.item_input(ids.reshape(-1))).view(b, ids.shape[1], -1)
        h = h + self.behaviour_scenario(scen)
        return self.pool(h * mask.unsqueeze(2), mask)

    def user_input(self, batch: Batch) -> Tensor:
        parts = [self.user_fields(*self.user_fields.columns(batch))]
        if self.stat_cols:
            parts.append(batch.dense[:, self.stat_cols])
        parts.append(self.behaviours(batch))
        return torch.cat(parts, 1)

    # ------------------------------------------------------------------ towers
    def user_views(self, batch: Batch) -> tuple[Tensor, Tensor]:
        e, g = self.user_tower(self.user_input(batch), batch.scenario_id)
        return F.normalize(e, dim=-1), F.normalize(g, dim=-1)

    def item_views(self, item_index: Tensor, scenario: Tensor) -> tuple[Tensor, Tensor]:
        e, g = self.item_tower(self.item_input(item_index), scenario)
        return F.normalize(e, dim=-1), F.normalize(g, dim=-1)

    def user_vectors(self, batch: Batch) -> Tensor:
        return self.user_views(batch)[0]

    def item_vectors(self, item_index: Tensor, scenario: Tensor) -> Tensor:
        return self.item_views(item_index, scenario)[0]

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        u = self.user_vectors(batch)
        v = self.item_vectors(batch.item_index, batch.scenario_id)
        return {"click": (u * v).sum(1)}
