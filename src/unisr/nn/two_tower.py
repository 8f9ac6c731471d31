"""Shared layers of two-tower (matching) models: the sparse and dense fields of one entity table (users or
items) embedded on their own, so a user tower and an item tower read disjoint inputs, and the item features of
the whole corpus kept beside the model so ``item_vectors`` embeds any item by its entity index.

Shapes:
    TableFields: sparse [N, F_t] long, dense [N, D_t] float -> [N, out_dim]
    TableFields.columns(batch) -> (sparse [B, F_t], dense [B, D_t]) (this table's columns of the batch)
    ItemFeatureTable.lookup(item_index [N]) -> (sparse [N, F_items], dense [N, D_items])
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from torch import Tensor, nn

from unisr.data.batch import Batch
from unisr.data.features import FeatureSchema, dense_table
from unisr.nn.embedding import FeatureEmbedding


class TableFields(nn.Module):
    """``FeatureEmbedding`` over the sparse fields of one table (``"users"`` or ``"items"``) + its dense fields.

    Shapes:
        forward(sparse [N, F_t], dense [N, D_t]) -> [N, out_dim]
    """

    def __init__(self, schema: FeatureSchema, table: str, *, sparse_grad: bool | None = None,
                 include_dense: bool = True) -> None:
        super().__init__()
        self.table = table
        self.sparse_cols = [i for i, f in enumerate(schema.sparse) if f.table == table]
        self.dense_cols = [i for i, d in enumerate(schema.dense) if dense_table(d) == table] if include_dense else []
        if not self.sparse_cols:
            raise ValueError(f"schema has no sparse field of table {table!r} for a {table} tower")
        sub = dataclasses.replace(schema, sparse=[schema.sparse[i] for i in self.sparse_cols], dense=[],
                                  sequences=[], vectors=[])
        self.embedding = FeatureEmbedding(sub, sparse_grad=sparse_grad, include_dense=False,
                                          include_sequences=False, include_vectors=False)
        self.out_dim = self.embedding.out_dim + len(self.dense_cols)

    def columns(self, batch: Batch) -> tuple[Tensor, Tensor]:
        return batch.sparse[:, self.sparse_cols], batch.dense[:, self.dense_cols]

    def forward(self, sparse: Tensor, dense: Tensor) -> Tensor:
        parts = [e.flatten(1) for e in self.embedding.fields(sparse)]
        if self.dense_cols:
            parts.append(dense)
        return torch.cat(parts, 1)


class ItemFeatureTable(nn.Module):
    """The item-table features of every item entity (row 0 = OOV), as persistent buffers (they travel in
    ``model.safetensors``); ``attach`` fills them from the fitted encoder's ``item_cat`` / ``item_dense``.

    Shapes:
        lookup(item_index [N]) -> (sparse [N, F_items] long, dense [N, D_items] float)
    """

    def __init__(self, schema: FeatureSchema, fields: TableFields) -> None:
        super().__init__()
        self.register_buffer("sparse", torch.zeros(schema.num_items + 1, len(fields.sparse_cols), dtype=torch.long))
        self.register_buffer("dense", torch.zeros(schema.num_items + 1, len(fields.dense_cols)))
        self.register_buffer("attached", torch.zeros((), dtype=torch.bool))

    def attach(self, item_cat: np.ndarray, item_dense: np.ndarray) -> None:
        """``item_cat`` [N + 1, F_items], ``item_dense`` [N + 1, D_items]: the encoder's item matrices."""
        if tuple(item_cat.shape) != tuple(self.sparse.shape):
            raise ValueError(f"item features {tuple(item_cat.shape)} do not match the schema's "
                             f"{tuple(self.sparse.shape)} (items + 1, item sparse fields)")
        self.sparse.copy_(torch.as_tensor(np.asarray(item_cat, np.int64)))
        if self.dense.shape[1]:
            self.dense.copy_(torch.as_tensor(np.asarray(item_dense, np.float32)[:, :self.dense.shape[1]]))
        self.attached.fill_(True)

    def lookup(self, item_index: Tensor) -> tuple[Tensor, Tensor]:
        if not bool(self.attached):
            raise RuntimeError("item features not attached: call model.attach_items(encoder) before item_vectors")
        return self.sparse[item_index], self.dense[item_index]
