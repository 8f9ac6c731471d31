"""AdaptDHM: Adaptive Distribution Hierarchical Model for multi-domain CTR (Li et al., 2022), as Scenario-Wise
Rec ships it: samples are routed to clusters of their embedding, not to their labelled scenario."""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812
from torch import Tensor, nn

from unisr.data.batch import Batch
from unisr.data.features import FeatureSchema
from unisr.models.registry import FieldRankerConfig, register_model
from unisr.nn.embedding import FeatureEmbedding
from unisr.nn.routing import ScenarioGroups


class AdaptDHMConfig(FieldRankerConfig):
    # Scenario-Wise Rec's MovieLens script: fcn_dims [64, 64], cluster_num 3, beta 0.9, the sparse fields and
    # the scenario embedding (16) as input (no age), 3 centre updates per training batch
    hidden: list[int] = [64, 64]
    clusters: int = 3
    beta: float = 0.9  # centre update c <- normalize(beta c + (1 - beta) sum_i r_ik x_i)
    router_iterations: int = 3
    scenario_embed_dim: int = 16
    dense: bool = False


@register_model("adaptdhm", config=AdaptDHMConfig,
                paper="Li et al., AdaptDHM: Adaptive Distribution Hierarchical Model for Multi-Domain CTR "
                      "Prediction, arXiv 2211.12105")
class AdaptDHM(nn.Module):
    """A shared FCN times per-cluster FCNs (``W = W_shared ⊙ W_k``), ``k`` the sample's embedding cluster.

    The router assigns each sample to the centre with the largest dot product ``x·c_k`` (softmax, argmax);
    in training the centres move towards the batch's soft assignments first (``router_iterations`` times,
    no gradient). Each cluster's weights run on that cluster's samples only.

    Shapes:
        batch -> {"click": [B] logits}; route(x [B, D]) -> [B] long cluster ids; centers: [K, D]
    """

    def __init__(self, embedding: FeatureEmbedding, num_scenarios: int, hidden: list[int], *, clusters: int = 3,
                 beta: float = 0.9, router_iterations: int = 3, scenario_embed_dim: int = 16) -> None:
        super().__init__()
        self.embedding = embedding
        self.scenario_emb = nn.Embedding(num_scenarios, scenario_embed_dim)
        nn.init.normal_(self.scenario_emb.weight, std=1e-4)  # Scenario-Wise Rec's RandomNormal(0, 1e-4)
        d = embedding.out_dim + scenario_embed_dim
        self.beta, self.iterations = beta, router_iterations
        self.register_buffer("centers", F.normalize(torch.randn(clusters, d), dim=1))
        dims = [d, *hidden, 1]
        gain = nn.init.calculate_gain("relu")

        def weights() -> nn.ParameterList:
            return nn.ParameterList(nn.Parameter(nn.init.xavier_uniform_(torch.empty(a, b), gain=gain))
                                    for a, b in zip(dims[:-1], dims[1:], strict=True))

        self.shared = weights()
        self.cluster = nn.ModuleList(weights() for _ in range(clusters))

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg: AdaptDHMConfig) -> AdaptDHM:
        return cls(FeatureEmbedding(schema, sparse_grad=cfg.sparse_grad, include_dense=cfg.dense,
                                    match=cfg.match_spec(), id_dropout=cfg.id_dropout), schema.num_scenarios,
                   cfg.hidden, clusters=cfg.clusters, beta=cfg.beta, router_iterations=cfg.router_iterations,
                   scenario_embed_dim=cfg.scenario_embed_dim)

    @torch.no_grad()
    def route(self, x: Tensor) -> Tensor:
        """Cluster id [B] of each sample of x [B, D]; in training the centres are updated first."""
        x = x.detach()
        if self.training:
            for _ in range(self.iterations):
                r = torch.softmax(x @ self.centers.T, 1)  # [B, K]
                self.centers.copy_(F.normalize(self.beta * self.centers + (1 - self.beta) * (r.T @ x), dim=1))
        return torch.argmax(x @ self.centers.T, 1)

    def _fcn(self, k: int, x: Tensor) -> Tensor:
        layers = [ws * wk for ws, wk in zip(self.shared, self.cluster[k], strict=True)]
        for w in layers[:-1]:
            x = torch.relu(x @ w)
        return x @ layers[-1]

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        x = torch.cat([self.embedding(batch), self.scenario_emb(batch.scenario_id)], 1)
        logit = ScenarioGroups(self.route(x)).apply(x, self._fcn)
        return {"click": logit.squeeze(1)}
