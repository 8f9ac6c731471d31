"""BPR-MF (Rendle et al., UAI'09) as a matching model: one embedding per user and per item, scored by their inner
product, trained pairwise (``train.matching.loss: bpr`` with one uniform negative per positive row,
``negatives: per_row``), as RecBole's ``BPR`` (``recbole/model/general_recommender/bpr.py``: xavier-normal init, no
regulariser, Adam).

Item vectors do not depend on the scenario (one corpus embedding and index for all scenarios); neither do user
vectors (the user's id only).

Shapes:
    user_vectors(batch) -> [B, dim]; item_vectors(item_index [N], scenario [N]) -> [N, dim]
    forward(batch) -> {"click": [B] inner product of the batch's own (user, item)}
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from torch import Tensor, nn

from unisr.data.batch import Batch
from unisr.data.features import FeatureSchema
from unisr.models.registry import ModelConfig, register_model

# RecBole's pairwise protocol (RecBole-GNN results/general/ml-1m.md: lr 0.001, batch 4096, valid MRR@10)
RECBOLE_MATCHING = {"loss": "bpr", "negatives": "per_row", "num_negatives": 1, "logq": False, "temperature": 1.0}


class BPRConfig(ModelConfig):
    dim: int = Field(64, ge=1)  # RecBole-GNN's table: embedding_size 64
    init: Literal["xavier_normal", "normal"] = "xavier_normal"  # RecBole: xavier_normal_initialization
    init_std: float = Field(0.1, gt=0)  # for init "normal" only (Rendle's N(0, 0.1^2))


@register_model("bpr", config=BPRConfig, task="matching", needs=("sparse",),
                paper="Rendle et al., UAI'09 (BPR: Bayesian personalized ranking from implicit feedback)",
                defaults={"train": {"monitor": "mrr@10", "lr": 0.001, "matching": RECBOLE_MATCHING},
                          "data": {"batch_size": 4096}})
class BPR(nn.Module):
    """BPR matrix factorisation: user and item embeddings, inner-product score.

    Shapes:
        user_vectors(batch) -> [B, dim]; item_vectors(item_index [N], scenario [N]) -> [N, dim]
    """

    scenario_items = False  # item_vectors ignore the scenario

    def __init__(self, num_users: int, num_items: int, cfg: BPRConfig) -> None:
        super().__init__()
        self.user = nn.Embedding(num_users + 1, cfg.dim)  # row 0 = unknown user
        self.item = nn.Embedding(num_items + 1, cfg.dim)  # row 0 = unknown item
        for emb in (self.user, self.item):
            if cfg.init == "xavier_normal":
                nn.init.xavier_normal_(emb.weight)
            else:
                nn.init.normal_(emb.weight, std=cfg.init_std)

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg: BPRConfig) -> BPR:
        return cls(schema.num_users, schema.num_items, cfg)

    def user_vectors(self, batch: Batch) -> Tensor:
        return self.user(batch.user_index)

    def item_vectors(self, item_index: Tensor, scenario: Tensor) -> Tensor:
        del scenario  # one item vector for every scenario
        return self.item(item_index)

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        return {"click": (self.user_vectors(batch) * self.item_vectors(batch.item_index, batch.scenario_id)).sum(1)}
