"""BST (Behavior Sequence Transformer, Chen et al., DLP-KDD'19, Alibaba) as a two-tower matching model, the form
SASS's table 2 compares (Zhang et al., CIKM'22, sec. 5.1.2: "we use the inner product of user and item
representations instead of MLP").

User tower: the behaviour sequence (``data.history_len`` = 50 last clicks, the sequence SASS's self-attention
pooling reads) embedded by the item tower's field embeddings, + a learned positional embedding (by recency), one
``torch.nn.TransformerEncoderLayer`` (8 heads, BST's b = 1 block), the mean over the valid positions
(``nn/sequence.py:TransformerSequencePooling``), concatenated with the user's fields (+ optionally the scenario)
and an MLP. Item tower: DSSM's (an MLP over the item fields). Score: cosine (L2-normalised towers, as DSSM) /
``train.matching.temperature``; ``normalize=False`` = the raw inner product.

Single- and mix-scenario (SASS's table 2) are data selections, not model switches: single = ``--set
data.scenarios=[S] --set data.history_scenarios=[S]``, mix = every feed (``data.scenario_kinds=[recommend]``);
the scenario is no input unless ``scenario_embed_dim`` > 0.

Shapes:
    user_vectors(batch) -> [B, dim]; item_vectors(item_index [N], scenario [N]) -> [N, dim]
    forward(batch) -> {"click": [B] score of the batch's own (user, item)}
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
from unisr.nn.sequence import ItemBehaviours, TransformerSequencePooling
from unisr.nn.two_tower import ItemFeatureTable, TableFields


class BSTConfig(ModelConfig):
    dim: int = Field(64, ge=1)  # the output vector dimension (the suite's 64)
    seq_dim: int = Field(64, ge=1)  # the Transformer's width (behaviour embedding after projection)
    heads: int = Field(8, ge=1)  # BST: 8 heads
    layers: int = Field(1, ge=1)  # BST: b = 1 block (its best)
    ff_mult: int = Field(4, ge=1)  # feed-forward width = ff_mult * seq_dim (BST: not stated)
    dropout: float = Field(0.2, ge=0.0, lt=1.0)  # BST: dropout 0.2
    positions: int = Field(50, ge=1)  # positional embedding rows (the paper's sequence length 50)
    use_positions: bool = True  # False: no positional embedding (an ablation)
    hidden: list[int] = [256, 128]  # both towers' MLPs (DSSM's)
    normalize: bool = True  # cosine (DSSM's item tower); False = raw inner product
    scenario_embed_dim: int = Field(0, ge=0)  # 0 = the scenario is no user-tower input (the paper's BST)
    sparse_grad: bool | None = None  # as RankerConfig: None = by table size


@register_model("bst", config=BSTConfig, task="matching",
                paper="Chen et al., DLP-KDD'19 (Behavior Sequence Transformer), two-tower form of SASS's table 2",
                needs=("sparse", "history"),
                defaults={"train": {"monitor": "recall@50"}, "data": {"history_len": 50}})
class BST(nn.Module):
    """BST two towers: Transformer over the behaviour sequence (+ user fields) vs DSSM's item MLP.

    Shapes:
        user_vectors(batch) -> [B, dim]; item_vectors(item_index [N], scenario [N]) -> [N, dim]
    """

    scenario_items = False  # one item vector for every scenario

    def __init__(self, schema: FeatureSchema, cfg: BSTConfig) -> None:
        super().__init__()
        self.normalize = cfg.normalize
        self.user_fields = TableFields(schema, "users", sparse_grad=cfg.sparse_grad)
        self.item_fields = TableFields(schema, "items", sparse_grad=cfg.sparse_grad)
        self.items = ItemFeatureTable(schema, self.item_fields)
        self.behaviours = ItemBehaviours(self.item_fields, self.items, cfg.seq_dim)
        self.encoder = TransformerSequencePooling(cfg.seq_dim, cfg.heads, layers=cfg.layers, ff_mult=cfg.ff_mult,
                                                  dropout=cfg.dropout, positions=cfg.positions,
                                                  use_positions=cfg.use_positions)
        self.scenario_emb = (nn.Embedding(schema.num_scenarios, cfg.scenario_embed_dim)
                             if cfg.scenario_embed_dim else None)
        u_in = self.user_fields.out_dim + cfg.seq_dim + cfg.scenario_embed_dim
        self.user_mlp = MLP(u_in, cfg.hidden, cfg.dim)
        self.item_mlp = MLP(self.item_fields.out_dim, cfg.hidden, cfg.dim)

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg: BSTConfig) -> BST:
        return cls(schema, cfg)

    def attach_items(self, encoder: FeatureEncoder) -> None:
        """The corpus' item features (persistent buffers: saved with the weights)."""
        self.items.attach(encoder.item_cat, encoder.item_dense)

    def _out(self, x: Tensor) -> Tensor:
        return F.normalize(x, dim=-1) if self.normalize else x

    def sequence(self, batch: Batch) -> Tensor:
        """The pooled Transformer output of the behaviour sequence: [B, seq_dim]."""
        return self.encoder(*self.behaviours(batch))

    def user_vectors(self, batch: Batch) -> Tensor:
        parts = [self.user_fields(*self.user_fields.columns(batch)), self.sequence(batch)]
        if self.scenario_emb is not None:
            parts.append(self.scenario_emb(batch.scenario_id))
        return self._out(self.user_mlp(torch.cat(parts, 1)))

    def item_vectors(self, item_index: Tensor, scenario: Tensor) -> Tensor:
        del scenario  # DSSM's item tower: one vector for every scenario
        return self._out(self.item_mlp(self.item_fields(*self.items.lookup(item_index))))

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        u = self.user_vectors(batch)
        v = self.item_vectors(batch.item_index, batch.scenario_id)
        return {"click": (u * v).sum(1)}
