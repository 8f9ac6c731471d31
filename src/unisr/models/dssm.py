"""DSSM (Huang et al., CIKM'13) as a two-tower matching model: an MLP over the user-side fields (+ the scenario)
and an MLP over the item-side fields, scored by the cosine of their outputs (inner product of L2-normalised
vectors; the objective divides by ``train.matching.temperature``, DSSM's smoothing factor gamma = 1 / t).

Trained by ``train/matching.py`` (in-batch sampled softmax with the logQ correction by default) and retrieved
through the FAISS indexes of ``unisr.index``. Item vectors do not depend on the scenario (one item tower);
the user vector does (the scenario embedding is a user-tower input).

Shapes:
    user_vectors(batch) -> [B, d]; item_vectors(item_index [N], scenario [N]) -> [N, d]
    forward(batch) -> {"click": [B] score of the batch's own (user, item)} (cosine / temperature-free)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from unisr.data.batch import Batch
from unisr.data.features import FeatureEncoder, FeatureSchema
from unisr.models.registry import ModelConfig, register_model
from unisr.nn.mlp import MLP
from unisr.nn.two_tower import ItemFeatureTable, TableFields


class DSSMConfig(ModelConfig):
    hidden: list[int] = [256, 128]
    dim: int = Field(64, ge=1)  # the output vector dimension
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    normalize: bool = True  # cosine (DSSM); False = raw inner product
    scenario_embed_dim: int = Field(16, ge=0)  # 0 = the user vector ignores the scenario
    sparse_grad: bool | None = None  # as RankerConfig: None = by table size


@register_model("dssm", config=DSSMConfig, task="matching",
                paper="Huang et al., CIKM'13 (DSSM; two towers over user and item fields)",
                needs=("sparse", "dense", "scenario"),
                defaults={"train": {"monitor": "recall@50"}})
class DSSM(nn.Module):
    """Two-tower DSSM: user MLP over user fields + scenario, item MLP over item fields, cosine score.

    Shapes:
        user_vectors(batch) -> [B, dim]; item_vectors(item_index [N], scenario [N]) -> [N, dim]
    """

    scenario_items = False  # item_vectors ignore the scenario: one corpus embedding and index for all scenarios

    def __init__(self, schema: FeatureSchema, cfg: DSSMConfig) -> None:
        super().__init__()
        self.normalize = cfg.normalize
        self.user_fields = TableFields(schema, "users", sparse_grad=cfg.sparse_grad)
        self.item_fields = TableFields(schema, "items", sparse_grad=cfg.sparse_grad)
        self.items = ItemFeatureTable(schema, self.item_fields)
        self.scenario_emb = (nn.Embedding(schema.num_scenarios, cfg.scenario_embed_dim)
                             if cfg.scenario_embed_dim else None)
        u_in = self.user_fields.out_dim + cfg.scenario_embed_dim
        self.user_mlp = MLP(u_in, cfg.hidden, cfg.dim, dropout=cfg.dropout)
        self.item_mlp = MLP(self.item_fields.out_dim, cfg.hidden, cfg.dim, dropout=cfg.dropout)

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg: DSSMConfig) -> DSSM:
        return cls(schema, cfg)

    def attach_items(self, encoder: FeatureEncoder) -> None:
        """The corpus' item features (kept in the model's buffers, saved with its weights)."""
        self.items.attach(encoder.item_cat, encoder.item_dense)

    def _out(self, x: Tensor) -> Tensor:
        return F.normalize(x, dim=-1) if self.normalize else x

    def user_vectors(self, batch: Batch) -> Tensor:
        x = self.user_fields(*self.user_fields.columns(batch))
        if self.scenario_emb is not None:
            x = torch.cat([x, self.scenario_emb(batch.scenario_id)], 1)
        return self._out(self.user_mlp(x))

    def item_vectors(self, item_index: Tensor, scenario: Tensor) -> Tensor:
        del scenario  # one item tower for every scenario
        return self._out(self.item_mlp(self.item_fields(*self.items.lookup(item_index))))

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        u = self.user_vectors(batch)
        v = self.item_vectors(batch.item_index, batch.scenario_id)
        return {"click": (u * v).sum(1)}
