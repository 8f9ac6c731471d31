"""STAR-M: STAR (Sheng et al., CIKM'21, star topology) adapted to matching, as SASS's table 2 compares it
(Zhang et al., CIKM'22, sec. 5.1.2: "constructs star topology for multi scenarios and operate an element-wise
operation to control information transferred from central network to specific networks").

User tower = STAR's network routed by scenario: input e = [user fields || mean of the behaviour sequence's
item-field embeddings (``data.history_len`` = 50)]; partitioned normalisation PN_s (``nn/star.py``); FC layers
with weights W ⊙ W_s and biases b + b_s (shared ⊙ scenario s, ``nn/star.py:StarLinear``), each scenario's
layers on its own rows only (``nn/routing.py:ScenarioGroups``); STAR's auxiliary network (scenario embedding ||
e -> MLP) added to the output, here a vector of the output width instead of a logit. Item tower: DSSM's (one
MLP over the item fields, scenario-free). Score: cosine / ``train.matching.temperature`` (DSSM's).

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
from unisr.nn.routing import ScenarioGroups
from unisr.nn.sequence import ItemBehaviours, masked_mean
from unisr.nn.star import PartitionedNorm, StarLinear
from unisr.nn.two_tower import ItemFeatureTable, TableFields


class STARMConfig(ModelConfig):
    dim: int = Field(64, ge=1)  # the output vector dimension
    seq_dim: int = Field(64, ge=1)  # the behaviour embedding (mean-pooled) width
    fcn: list[int] = [256, 128]  # the star-topology hidden layers (DSSM's widths; STAR's own: [128, 64, 32])
    aux: list[int] = [32]  # STAR's auxiliary network hidden layers
    scenario_embed_dim: int = Field(16, ge=1)  # the auxiliary network's scenario embedding
    partitioned_norm: bool = True
    auxiliary: bool = True
    hidden: list[int] = [256, 128]  # DSSM's item MLP
    normalize: bool = True  # cosine (DSSM's); False = raw inner product
    sparse_grad: bool | None = None  # as RankerConfig: None = by table size


@register_model("star_m", config=STARMConfig, task="matching",
                paper="Sheng et al., CIKM'21 (STAR), adapted to matching as SASS's STAR-M (Zhang et al., CIKM'22)",
                needs=("sparse", "scenario", "history"),
                defaults={"train": {"monitor": "recall@50"}, "data": {"history_len": 50}})
class STARM(nn.Module):
    """STAR-M: user tower = PN_s -> star-topology FCN (shared ⊙ scenario weights) + auxiliary net; DSSM items.

    Shapes:
        user_vectors(batch) -> [B, dim]; item_vectors(item_index [N], scenario [N]) -> [N, dim]
    """

    scenario_items = False  # the item tower is DSSM's: one vector for every scenario

    def __init__(self, schema: FeatureSchema, cfg: STARMConfig) -> None:
        super().__init__()
        self.normalize = cfg.normalize
        s = schema.num_scenarios
        self.user_fields = TableFields(schema, "users", sparse_grad=cfg.sparse_grad)
        self.item_fields = TableFields(schema, "items", sparse_grad=cfg.sparse_grad)
        self.items = ItemFeatureTable(schema, self.item_fields)
        self.behaviours = ItemBehaviours(self.item_fields, self.items, cfg.seq_dim)
        d = self.user_fields.out_dim + cfg.seq_dim
        self.pn = PartitionedNorm(s, d) if cfg.partitioned_norm else None
        dims = [d, *cfg.fcn, cfg.dim]
        self.layers = nn.ModuleList(StarLinear(s, a, b) for a, b in zip(dims[:-1], dims[1:], strict=True))
        self.scenario_emb = nn.Embedding(s, cfg.scenario_embed_dim) if cfg.auxiliary else None
        self.aux = MLP(d + cfg.scenario_embed_dim, cfg.aux, cfg.dim) if cfg.auxiliary else None
        self.item_mlp = MLP(self.item_fields.out_dim, cfg.hidden, cfg.dim)

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg: STARMConfig) -> STARM:
        return cls(schema, cfg)

    def attach_items(self, encoder: FeatureEncoder) -> None:
        """The corpus' item features (persistent buffers: saved with the weights)."""
        self.items.attach(encoder.item_cat, encoder.item_dense)

    def _out(self, x: Tensor) -> Tensor:
        return F.normalize(x, dim=-1) if self.normalize else x

    def _fcn(self, s: int, x: Tensor) -> Tensor:
        if self.pn is not None:
            x = self.pn(x, s)
        for i, layer in enumerate(self.layers):
            x = layer(x, s)
            if i < len(self.layers) - 1:
                x = torch.relu(x)
        return x

    def user_input(self, batch: Batch) -> Tensor:
        """e = [user fields || mean behaviour embedding]: [B, d]."""
        return torch.cat([self.user_fields(*self.user_fields.columns(batch)), masked_mean(*self.behaviours(batch))], 1)

    def user_vectors(self, batch: Batch) -> Tensor:
        e = self.user_input(batch)
        u = ScenarioGroups(batch.scenario_id).apply(e, self._fcn)
        if self.aux is not None:
            u = u + self.aux(torch.cat([e, self.scenario_emb(batch.scenario_id)], 1))
        return self._out(u)

    def item_vectors(self, item_index: Tensor, scenario: Tensor) -> Tensor:
        del scenario  # DSSM's item tower: one vector for every scenario
        return self._out(self.item_mlp(self.item_fields(*self.items.lookup(item_index))))

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        u = self.user_vectors(batch)
        v = self.item_vectors(batch.item_index, batch.scenario_id)
        return {"click": (u * v).sum(1)}
