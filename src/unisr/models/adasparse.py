"""AdaSparse: adaptively sparse structures for multi-domain CTR (Yang et al., CIKM'22), as Scenario-Wise Rec
ships it."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from unisr.data.batch import Batch
from unisr.data.features import FeatureSchema
from unisr.models.registry import FieldRankerConfig, register_model
from unisr.nn.embedding import FeatureEmbedding


class AdaSparseConfig(FieldRankerConfig):
    # Scenario-Wise Rec's MovieLens script: form Fusion, epsilon 1e-2, beta 2, alpha 1, delta_alpha 1e-4, MLP
    # [32, 32] (Linear -> BatchNorm -> ReLU -> Dropout 0.2), the scenario embedding (16) as the domain input and
    # the sparse fields (no age) as the agnostic input
    hidden: list[int] = [32, 32]
    dropout: float = 0.2
    form: Literal["binarization", "scaling", "fusion"] = "fusion"
    epsilon: float = 1e-2
    beta: float = 2.0
    alpha: float = 1.0
    delta_alpha: float = 1e-4  # alpha grows by this per training step (the binarisation sharpens)
    scenario_embed_dim: int = 16
    dense: bool = False


class Pruner(nn.Module):
    """The domain-adaptive pruner: factors ``π`` of a layer's neurons from ``[e_domain ‖ h]`` (AdaSparse eq. 3-6).

    ``v = W [e_d ‖ h]`` (no bias); binarization ``π = 1[σ(α v) ≥ ε]``; scaling ``π = β σ(v)`` zeroed below ε;
    fusion ``π = β σ(α v)`` zeroed below ε. Values: 0 or in [ε, β] (binarization: 0 or 1).

    Shapes:
        forward(e_d [B, d], h [B, n], alpha) -> π [B, n]
    """

    def __init__(self, domain_dim: int, dim: int, form: str = "fusion", epsilon: float = 1e-2,
                 beta: float = 2.0) -> None:
        super().__init__()
        self.form, self.epsilon, self.beta = form, epsilon, beta
        self.linear = nn.Linear(domain_dim + dim, dim, bias=False)

    def forward(self, e_d: Tensor, h: Tensor, alpha: Tensor) -> Tensor:
        v = self.linear(torch.cat([e_d, h], 1))
        if self.form == "binarization":
            # straight-through: the forward value is the 0/1 mask, the gradient that of σ(α v)
            soft = torch.sigmoid(alpha * v)
            hard = (soft >= self.epsilon).to(soft.dtype)
            return hard + soft - soft.detach()
        soft = self.beta * torch.sigmoid(v if self.form == "scaling" else alpha * v)
        return soft * (soft >= self.epsilon).to(soft.dtype)


@register_model("adasparse", config=AdaSparseConfig,
                paper="Yang et al., AdaSparse: Learning Adaptively Sparse Structures for Multi-Domain CTR "
                      "Prediction, CIKM'22")
class AdaSparse(nn.Module):
    """An MLP whose input and every hidden layer are multiplied by pruning factors of the scenario embedding.

    ``x_0 = [e_d ‖ π_0 ⊙ E]``, ``h_l = π_l ⊙ Dropout(ReLU(BN(W_l h_{l-1})))``, ``π_l = Pruner_l(e_d, ·)``; the
    scenario reaches the network only through ``e_d`` (the pruners' domain input), so nothing is routed.

    Shapes:
        batch -> {"click": [B] logits}; factors(batch): list of [B, n_l] (input first)
    """

    def __init__(self, embedding: FeatureEmbedding, num_scenarios: int, hidden: list[int], *, dropout: float = 0.2,
                 form: str = "fusion", epsilon: float = 1e-2, beta: float = 2.0, alpha: float = 1.0,
                 delta_alpha: float = 1e-4, scenario_embed_dim: int = 16) -> None:
        super().__init__()
        self.embedding = embedding
        self.scenario_emb = nn.Embedding(num_scenarios, scenario_embed_dim)
        nn.init.normal_(self.scenario_emb.weight, std=1e-4)  # Scenario-Wise Rec's RandomNormal(0, 1e-4)
        self.register_buffer("alpha", torch.tensor(float(alpha)))
        self.delta_alpha = delta_alpha
        d, k = embedding.out_dim, scenario_embed_dim
        self.pruners = nn.ModuleList([Pruner(k, d, form, epsilon, beta)])
        self.layers = nn.ModuleList()
        prev = k + d
        for h in hidden:
            self.layers.append(nn.Sequential(nn.Linear(prev, h), nn.BatchNorm1d(h), nn.ReLU(), nn.Dropout(dropout)))
            self.pruners.append(Pruner(k, h, form, epsilon, beta))
            prev = h
        self.out = nn.Linear(prev, 1)

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg: AdaSparseConfig) -> AdaSparse:
        return cls(FeatureEmbedding(schema, sparse_grad=cfg.sparse_grad, include_dense=cfg.dense,
                                    match=cfg.match_spec(), id_dropout=cfg.id_dropout), schema.num_scenarios,
                   cfg.hidden, dropout=cfg.dropout, form=cfg.form, epsilon=cfg.epsilon, beta=cfg.beta,
                   alpha=cfg.alpha, delta_alpha=cfg.delta_alpha, scenario_embed_dim=cfg.scenario_embed_dim)

    def _run(self, batch: Batch) -> tuple[Tensor, list[Tensor]]:
        e_d = self.scenario_emb(batch.scenario_id)
        agn = self.embedding(batch)
        pi = self.pruners[0](e_d, agn, self.alpha)
        factors = [pi]
        h = torch.cat([e_d, pi * agn], 1)
        for layer, pruner in zip(self.layers, self.pruners[1:], strict=True):
            h = layer(h)
            pi = pruner(e_d, h, self.alpha)
            factors.append(pi)
            h = pi * h
        return self.out(h).squeeze(1), factors

    def factors(self, batch: Batch) -> list[Tensor]:
        """The pruning factors π_l of each layer (input first): [B, n_l]."""
        return self._run(batch)[1]

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        if self.training:  # Scenario-Wise Rec: alpha += delta_alpha each forward
            self.alpha += self.delta_alpha
        return {"click": self._run(batch)[0]}
