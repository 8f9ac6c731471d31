"""Behaviour-sequence layers of the sequence matching baselines (BST, MIND, STAR-M): the user's clicked items
embedded by the item tower's own field embeddings (so a behaviour and a candidate item share one space, as the
papers share the item embedding), a Transformer encoder over them with learned positional embeddings (BST), and
a masked mean.

The sequence is ``batch.sequences["history"]`` (``data.history_len`` last clicks before the event,
right-aligned: the most recent click last, padding on the left, ``data/history.py``). Positions are counted from
the most recent click (0 = the last one), so a position embedding means the same recency for every row.

Shapes:
    ItemBehaviours(batch) -> (h [B, L, dim], mask [B, L] bool); without ``history`` in the batch L = 1, all masked
    recency(mask [B, L]) -> [L] long (0 = the most recent slot)
    masked_mean(h [B, L, d], mask [B, L]) -> [B, d] (zeros for a row without a valid position)
    TransformerSequencePooling(h [B, L, d], mask [B, L]) -> [B, d]
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from unisr.data.batch import Batch
from unisr.nn.two_tower import ItemFeatureTable, TableFields


def recency(mask: Tensor) -> Tensor:
    """Slot j of a right-aligned [B, L] sequence is the (L - 1 - j)-th most recent click: [L] long."""
    n = mask.shape[1]
    return torch.arange(n - 1, -1, -1, device=mask.device)


def masked_mean(h: Tensor, mask: Tensor) -> Tensor:
    m = mask.unsqueeze(2).to(h.dtype)
    return (h * m).sum(1) / m.sum(1).clamp_min(1.0)


class ItemBehaviours(nn.Module):
    """Each behaviour (a clicked item entity) embedded by the item fields of the item tower (``fields`` over
    ``items``' stored features: item id, category, ... and the item's dense fields), projected to ``dim``.

    Shapes:
        forward(batch) -> (h [B, L, dim], mask [B, L] bool); masked positions are zeros
    """

    def __init__(self, fields: TableFields, items: ItemFeatureTable, dim: int) -> None:
        super().__init__()
        self._shared = (fields, items)  # the item tower's modules: registered there, not twice in the state dict
        self.proj = nn.Linear(fields.out_dim, dim)
        self.dim = dim

    def forward(self, batch: Batch) -> tuple[Tensor, Tensor]:
        b = len(batch)
        if "history" not in batch.sequences:
            return (batch.dense.new_zeros((b, 1, self.dim)),
                    torch.zeros(b, 1, dtype=torch.bool, device=batch.scenario_id.device))
        fields, items = self._shared
        ids, mask = batch.sequences["history"]
        ids = torch.where(mask, ids, torch.zeros_like(ids)).clamp(0, items.sparse.shape[0] - 1)
        h = self.proj(fields(*items.lookup(ids.reshape(-1)))).view(b, ids.shape[1], -1)
        return h * mask.unsqueeze(2), mask


class TransformerSequencePooling(nn.Module):
    """BST's behaviour encoder (Chen et al., DLP-KDD'19, sec. 2.2): sequence embedding + learned positional
    embedding, ``layers`` ``torch.nn.TransformerEncoderLayer`` (multi-head self-attention, feed-forward, residuals,
    layer norm, dropout) with the padding positions masked out of the attention keys, then the mean over the
    valid positions (the two-tower user vector cannot hold one output per behaviour as BST's MLP input does).

    ``positions``: the positional embedding table's size; older slots share its last row. ``use_positions=False``
    drops it (the encoder is then blind to the order: an ablation and the test's control).

    Shapes:
        forward(h [B, L, d], mask [B, L] bool) -> [B, d]; a row with no valid position gives zeros
    """

    def __init__(self, dim: int, heads: int, *, layers: int = 1, ff_mult: int = 4, dropout: float = 0.2,
                 positions: int = 50, use_positions: bool = True) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"BST: dim {dim} is not divisible by heads {heads}")
        self.position = nn.Embedding(positions, dim) if use_positions else None
        if self.position is not None:
            nn.init.normal_(self.position.weight, std=dim ** -0.5)
        self.encoder = nn.ModuleList(
            nn.TransformerEncoderLayer(dim, heads, dim_feedforward=ff_mult * dim, dropout=dropout,
                                       activation="gelu", batch_first=True) for _ in range(layers))

    def forward(self, h: Tensor, mask: Tensor) -> Tensor:
        if self.position is not None:
            pos = recency(mask).clamp_max(self.position.num_embeddings - 1)
            h = h + self.position(pos)[None]
        any_valid = mask.any(1)
        key_pad = ~mask
        key_pad[:, 0] &= any_valid  # a row without behaviours attends to its first slot (zeroed below)
        for layer in self.encoder:
            h = layer(h, src_key_padding_mask=key_pad)
        return masked_mean(h, mask & any_valid[:, None])
