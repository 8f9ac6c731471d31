"""The user's behaviour sequence and the target item in one item-id embedding space, for the behaviour-sequence
baselines (TEM, AEM+DIN).

Shapes:
    BehaviourEmbedding.history: batch -> (h [B, L, dim], mask [B, L] bool); .target: batch -> [B, dim]
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from unisr.data.batch import Batch


class BehaviourEmbedding(nn.Module):
    """The user's behaviour sequence (``batch.sequences["history"]``: item entity indices of the last clicks,
    right-aligned, from ``data.history_len``) and the target item, embedded by one shared item-id table; each
    behaviour also adds the embedding of the scenario it was clicked in (search or recommendation click).

    The history carries item ids only (no item attributes), so the target is embedded by the same id table for
    the two to be comparable in attention.

    Shapes:
        history(batch) -> (h [B, L, dim], mask [B, L] bool); without ``history`` in the batch L = 1, all masked
        target(batch) -> [B, dim]
    """

    def __init__(self, num_items: int, num_scenarios: int, dim: int, *, sparse_grad: bool,
                 scenario: bool = True, init_std: float = 1e-4) -> None:
        super().__init__()
        self.item = nn.Embedding(num_items + 1, dim, sparse=sparse_grad)
        nn.init.normal_(self.item.weight, std=init_std)
        self.scenario = nn.Embedding(num_scenarios, dim) if scenario else None
        if self.scenario is not None:
            nn.init.normal_(self.scenario.weight, std=init_std)

    def target(self, batch: Batch) -> Tensor:
        return self.item(batch.item_index.clamp(0, self.item.num_embeddings - 1))

    def history(self, batch: Batch) -> tuple[Tensor, Tensor]:
        if "history" not in batch.sequences:
            b = len(batch)
            return (batch.dense.new_zeros((b, 1, self.item.embedding_dim)),
                    torch.zeros(b, 1, dtype=torch.bool, device=batch.scenario_id.device))
        ids, mask = batch.sequences["history"]
        h = self.item(ids.clamp(0, self.item.num_embeddings - 1))
        if self.scenario is not None and "history_scenario" in batch.sequences:
            scen = batch.sequences["history_scenario"][0].clamp(0, self.scenario.num_embeddings - 1)
            h = h + self.scenario(scen)
        return h * mask.unsqueeze(2), mask
