"""PPNet: the Parameter Personalized Network of PEPNet (Chang et al., KDD'23), one tower per scenario, as
Scenario-Wise Rec ships it."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from unisr.data.batch import Batch
from unisr.data.features import FeatureSchema
from unisr.models.registry import FieldRankerConfig, register_model
from unisr.nn.embedding import ID_FIELDS, FeatureEmbedding
from unisr.nn.gate_nu import GateNU
from unisr.nn.mlp import MLP
from unisr.nn.routing import ScenarioGroups


class PPNetConfig(FieldRankerConfig):
    # Scenario-Wise Rec's MovieLens script: id features user_id, movie_id; general features gender, occupation,
    # zip, genre, age and the scenario (embedding 16); fcn_dims [128, 64, 32]; one tower per scenario; every
    # tower layer Linear -> BatchNorm -> ReLU, times its Gate NU (gamma 2)
    hidden: list[int] = [128, 64, 32]
    scenario_embed_dim: int = 16
    gamma: float = 2.0
    # what each tower's first layer reads: "general" = the general embedding (PEPNet eq. 5-6: the gates carry the
    # id prior, the tower the general features); "gate" = the gate input [ids ‖ ⊘(general)] as Scenario-Wise
    # Rec's PPTowerBlock does (``hidden = gate_input_emb``), where the general embeddings then get no gradient
    tower_input: Literal["general", "gate"] = "general"


class PPTower(nn.Module):
    """One scenario's tower: ``h_{l+1} = δ_l ⊙ ReLU(BN(W_l h_l))``, ``δ_l = GateNU_l(gate input)``; logit.

    Shapes:
        forward(x [B, in], g [B, gate_dim]) -> [B, 1]
    """

    def __init__(self, in_dim: int, gate_dim: int, hidden: list[int], gamma: float) -> None:
        super().__init__()
        dims = [in_dim, *hidden]
        self.layers = nn.ModuleList(MLP(a, [b], batch_norm=True) for a, b in zip(dims[:-1], dims[1:], strict=True))
        self.gates = nn.ModuleList(GateNU(gate_dim, b, gamma=gamma) for b in hidden)
        self.out = nn.Linear(dims[-1], 1)

    def gate_values(self, g: Tensor) -> list[Tensor]:
        """δ_l for each layer: [B, hidden_l]."""
        return [gate(g) for gate in self.gates]

    def forward(self, x: Tensor, g: Tensor) -> Tensor:
        for layer, gate in zip(self.layers, self.gates, strict=True):
            x = layer(x) * gate(g)
        return self.out(x)


@register_model("ppnet", config=PPNetConfig,
                paper="Chang et al., PEPNet: Parameter and Embedding Personalized Network, KDD'23 (PPNet part)")
class PPNet(nn.Module):
    """Per-scenario towers whose every hidden layer is scaled by a gate of the id embeddings and the
    stop-gradient general embedding; each scenario's tower runs on that scenario's samples only.

    Shapes:
        batch -> {"click": [B] logits}
    """

    def __init__(self, embedding: FeatureEmbedding, num_scenarios: int, hidden: list[int], *,
                 scenario_embed_dim: int = 16, gamma: float = 2.0, tower_input: str = "general") -> None:
        super().__init__()
        self.embedding = embedding
        names = embedding.field_names
        self.id_fields = [i for i, n in enumerate(names) if n in ID_FIELDS]
        if not self.id_fields or len(set(embedding.field_dims)) != 1:
            raise ValueError(f"PPNet needs the id fields {ID_FIELDS} and one embedding size (fields {names})")
        d = embedding.field_dims[0]
        self.general_fields = [i for i in range(len(names)) if i not in self.id_fields]
        self.scenario_emb = nn.Embedding(num_scenarios, scenario_embed_dim)
        nn.init.normal_(self.scenario_emb.weight, std=1e-4)  # Scenario-Wise Rec's RandomNormal(0, 1e-4)
        id_dim = d * len(self.id_fields)
        general_dim = d * len(self.general_fields) + embedding.num_dense + scenario_embed_dim
        self.tower_input = tower_input
        gate_dim = id_dim + general_dim
        in_dim = general_dim if tower_input == "general" else gate_dim
        self.towers = nn.ModuleList(PPTower(in_dim, gate_dim, hidden, gamma) for _ in range(num_scenarios))

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg: PPNetConfig) -> PPNet:
        return cls(FeatureEmbedding(schema, sparse_grad=cfg.sparse_grad, id_dropout=cfg.id_dropout),
                   schema.num_scenarios, cfg.hidden, scenario_embed_dim=cfg.scenario_embed_dim, gamma=cfg.gamma,
                   tower_input=cfg.tower_input)

    def inputs(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """(tower input [B, in], gate input [B, gate_dim] = [ids ‖ ⊘(general)])."""
        (fields,) = self.embedding.fields(batch.sparse)  # [B, F, d]
        ids = fields[:, self.id_fields].flatten(1)
        parts = [fields[:, self.general_fields].flatten(1)]
        if self.embedding.num_dense:
            parts.append(batch.dense)
        parts.append(self.scenario_emb(batch.scenario_id))
        general = torch.cat(parts, 1)
        gate = torch.cat([ids, general.detach()], 1)
        return (general if self.tower_input == "general" else gate), gate

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        x, g = self.inputs(batch)
        logit = ScenarioGroups(batch.scenario_id).apply((x, g), lambda s, xg: self.towers[s](*xg))
        return {"click": logit.squeeze(1)}
