"""CUNE baseline of TreeMS's table 2 (after Zhang et al., "Collaborative User Network Embedding for Social
Recommender Systems", SDM'17).

Simplified (pretrain-free, docs/models/baselines_treems.md): CUNE embeds a collaborative user network built from
co-interactions (DeepWalk), takes each user's top-k "semantic friends" from it and adds them to MF/BPR as a
social regulariser. Here the semantic friends are the user's sampled neighbours in the social views (the same
``graph:social`` sample as every model of the table) and the user factors are learned jointly with the click
loss: logit = MLP(x) + <p_u, p_v>, plus ``social_reg`` * mean ||p_u - p_j||^2 over the sampled friends j of both
users (``extra_losses``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from unisr.data.batch import Batch
from unisr.data.features import FeatureSchema
from unisr.models.graph_configs import SHARE_DEFAULTS, SHARE_NEEDS, ShareConfig
from unisr.models.registry import register_model
from unisr.nn.mlp import MLP
from unisr.nn.social import ShareInput, SocialSampling, init_relu_stacks, share_sparse


class CUNEConfig(ShareConfig):
    mf_dim: int = 16
    social_reg: float = 0.01


@register_model("cune", config=CUNEConfig, needs=SHARE_NEEDS,
                defaults=SHARE_DEFAULTS,
                paper="Zhang et al., Collaborative User Network Embedding for Social Recommender Systems, SDM'17")
class CUNE(SocialSampling, nn.Module):
    """Sharing recommendation: MLP(x) + user-factor dot product, factors pulled towards their social friends.

    Shapes:
        batch (with a ``SocialSubgraph``, ``graph:social``) -> {"click": [B] logits}
    """

    def __init__(self, inp: ShareInput, num_users: int, hidden: list[int], mf_dim: int, social_reg: float,
                 dropout: float = 0.0, sparse: bool = False) -> None:
        super().__init__()
        self.input = inp
        self.mlp = MLP(inp.x_dim, hidden, 1, dropout=dropout)
        self.factors = nn.Embedding(num_users + 1, mf_dim, sparse=sparse)
        nn.init.normal_(self.factors.weight, std=0.01)
        self.social_reg = social_reg

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg: CUNEConfig) -> CUNE:
        model = cls(ShareInput.from_config(schema, cfg), schema.num_users, cfg.hidden, cfg.mf_dim,
                    cfg.social_reg, cfg.dropout, share_sparse(schema, cfg))
        return init_relu_stacks(model, cfg.init)

    @staticmethod
    def _dst(batch: Batch) -> Tensor:
        t = batch.target_user_index
        return torch.zeros_like(batch.user_index) if t is None else t.clamp(min=0)

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        mf = (self.factors(batch.user_index) * self.factors(self._dst(batch))).sum(1)
        return {"click": self.mlp(self.input(batch, type(self).__name__).x()).squeeze(1) + mf}

    def extra_losses(self, batch: Batch, outputs: dict[str, Tensor]) -> dict[str, Tensor]:
        if self.social_reg <= 0:
            return {}
        sub = self.social(batch)
        total, count = torch.zeros(()), torch.zeros(())
        for role, seed in (("src", batch.user_index), ("dst", self._dst(batch))):
            p = self.factors(seed).unsqueeze(1)  # [B, 1, d]
            for v in self.input.views:
                hop = sub.neighbourhood(v, role).hops[0]
                m = hop.mask & (seed > 0).unsqueeze(1)
                d2 = (p - self.factors(hop.nodes)).pow(2).sum(-1)  # [B, W]
                total = total + (d2 * m).sum()
                count = count + m.sum()
        return {"social_reg": self.social_reg * total / count.clamp(min=1)}
