"""LightGCN (He et al., SIGIR'20) as a matching model: user and item embeddings propagated over the whole
training user-item graph by PyG's ``LGConv`` (e^(l+1) = D^-1/2 A D^-1/2 e^(l), eq. 3), the final vector the mean
of layers 0..L (eq. 4, alpha_l = 1 / (L + 1)), scored by inner product (eq. 5); trained with BPR (one uniform
negative per positive row) + ``reg_weight`` * L2 of the layer-0 embeddings of the batch (eq. 6), as RecBole-GNN's
``LightGCN`` (``recbole_gnn/model/general_recommender/lightgcn.py``).

The graph is the training split's unique (user, item) clicks (``attach_interactions``, called by the matching run
before training), kept as persistent buffers (a CSR adjacency over users 0..U then items U+1..U+N+1, entity
index 0 = unknown) so a saved run evaluates and serves without the data. One full-graph propagation per
optimizer step: ``user_vectors`` and ``item_vectors`` of one step share it (cached until the embedding weights
change in place, i.e. until the optimizer steps). The normalised adjacency is symmetric, so the backward pass of a
layer is the same ``LGConv`` propagation of the gradient (``_SymmetricPropagate``), not a transposed sparse
product.

Shapes:
    user_vectors(batch) -> [B, dim]; item_vectors(item_index [N], scenario [N]) -> [N, dim]
    propagate() -> (users [U + 1, dim], items [N + 1, dim])
    forward(batch) -> {"click": [B] inner product of the batch's own (user, item)}
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from pydantic import Field
from torch import Tensor, nn
from torch_geometric.nn import LGConv

from unisr.data.batch import Batch
from unisr.data.features import FeatureSchema
from unisr.graph.csr import from_coo
from unisr.models.registry import ModelConfig, register_model

# RecBole-GNN results/general/ml-1m.md, LightGCN row: lr 0.002, n_layers 3, reg_weight 1e-4; batch 4096
RECBOLE_MATCHING = {"loss": "bpr", "negatives": "per_row", "num_negatives": 1, "logq": False, "temperature": 1.0,
                    "reg_weight": 0.0001}
GRAPH_BUFFERS = ("adj_indptr", "adj_indices", "adj_values")


class LightGCNMatchConfig(ModelConfig):
    dim: int = Field(64, ge=1)  # RecBole-GNN's table: embedding_size 64
    n_layers: int = Field(3, ge=0)  # the table's best n_layers (RecBole-GNN's LightGCN.yaml default is 2)
    init: Literal["xavier_uniform", "normal"] = "xavier_uniform"  # RecBole-GNN: xavier_uniform_initialization
    init_std: float = Field(0.1, gt=0)  # for init "normal" only (the LightGCN authors' code: N(0, 0.1^2))


class _SymmetricPropagate(torch.autograd.Function):
    """y = conv(x, A) with A symmetric: dL/dx = conv(dL/dy, A) (the same propagation)."""

    @staticmethod
    def forward(ctx, x: Tensor, conv: LGConv, adj: Tensor) -> Tensor:  # noqa: ANN001
        ctx.conv, ctx.adj = conv, adj
        with torch.no_grad():
            return conv(x, adj)

    @staticmethod
    def backward(ctx, grad: Tensor):  # noqa: ANN205
        with torch.no_grad():
            return ctx.conv(grad.contiguous(), ctx.adj), None, None


@register_model("lightgcn_match", config=LightGCNMatchConfig, task="matching", needs=("sparse",),
                paper="He et al., SIGIR'20 (LightGCN: simplifying and powering graph convolution network for "
                      "recommendation; full-graph, as RecBole-GNN)",
                defaults={"train": {"monitor": "mrr@10", "lr": 0.002, "matching": RECBOLE_MATCHING},
                          "data": {"batch_size": 4096}})
class LightGCNMatch(nn.Module):
    """Full-graph LightGCN: PyG LGConv over the training user-item graph, mean of layers, inner product.

    Shapes:
        user_vectors(batch) -> [B, dim]; item_vectors(item_index [N], scenario [N]) -> [N, dim]
    """

    scenario_items = False  # item_vectors ignore the scenario

    def __init__(self, num_users: int, num_items: int, cfg: LightGCNMatchConfig) -> None:
        super().__init__()
        self.n_users, self.n_items = num_users + 1, num_items + 1  # rows incl. the unknown entity 0
        self.user = nn.Embedding(self.n_users, cfg.dim)
        self.item = nn.Embedding(self.n_items, cfg.dim)
        for emb in (self.user, self.item):
            if cfg.init == "xavier_uniform":
                nn.init.xavier_uniform_(emb.weight)
            else:
                nn.init.normal_(emb.weight, std=cfg.init_std)
        self.n_layers = cfg.n_layers
        self.conv = LGConv(normalize=False)  # the symmetric normalisation is in the adjacency's values
        n = self.n_users + self.n_items
        self.register_buffer("adj_indptr", torch.zeros(n + 1, dtype=torch.long))  # empty graph until attached
        self.register_buffer("adj_indices", torch.zeros(0, dtype=torch.long))
        self.register_buffer("adj_values", torch.zeros(0))
        self._cache: tuple | None = None

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg: LightGCNMatchConfig) -> LightGCNMatch:
        return cls(schema.num_users, schema.num_items, cfg)

    # ---------------------------------------------------------------- the graph
    def attach_interactions(self, train) -> None:  # noqa: ANN001 (evaluate.retrieval.Interactions)
        """Build the normalised adjacency D^-1/2 A D^-1/2 of the unique training (user, item) clicks."""
        ui = from_coo(train.user, train.item, self.n_users, self.n_items, dedupe=True)  # user -> item, unique
        u = np.repeat(np.arange(self.n_users), np.diff(ui.indptr))
        i = ui.indices.astype(np.int64)
        n = self.n_users + self.n_items
        row = np.concatenate([u, self.n_users + i])
        col = np.concatenate([self.n_users + i, u])
        deg = np.bincount(row, minlength=n).astype(np.float64)
        val = 1.0 / np.sqrt(deg[row] * deg[col])
        order = np.lexsort((col, row))
        row, col, val = row[order], col[order], val[order]
        self.adj_indptr = torch.as_tensor(np.r_[0, np.cumsum(np.bincount(row, minlength=n))], dtype=torch.long)
        self.adj_indices = torch.as_tensor(col, dtype=torch.long)
        self.adj_values = torch.as_tensor(val, dtype=torch.float32)
        self._cache = None

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:  # noqa: ANN001, ANN002, ANN003
        for name in GRAPH_BUFFERS:  # the saved graph's size is the saved run's: take its shape
            key = prefix + name
            if key in state_dict:
                setattr(self, name, torch.empty_like(state_dict[key]))
        self._cache = None
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def adjacency(self) -> Tensor:
        n = self.n_users + self.n_items
        return torch.sparse_csr_tensor(self.adj_indptr, self.adj_indices, self.adj_values, (n, n))

    # ---------------------------------------------------------------- propagation
    def propagate(self) -> tuple[Tensor, Tensor]:
        """(users [U + 1, dim], items [N + 1, dim]) = mean of layers 0..L; cached while the weights are unchanged
        (the optimizer's in-place step bumps their version) and the grad mode is the same."""
        key = (self.user.weight._version, self.item.weight._version, self.training, self.adj_values.data_ptr(),
               self.user.weight.data_ptr())
        grad = torch.is_grad_enabled()
        if self._cache is not None and self._cache[0] == key:
            users, items = self._cache[1]
            if not grad:  # a no-grad caller (evaluation, DNS scoring) reuses this step's propagation
                return users.detach(), items.detach()
            if users.requires_grad or not self.user.weight.requires_grad:
                return users, items
        x = torch.cat([self.user.weight, self.item.weight], 0)
        total = x
        if self.n_layers and len(self.adj_indices):
            adj = self.adjacency()
            for _ in range(self.n_layers):
                x = _SymmetricPropagate.apply(x, self.conv, adj) if grad else self.conv(x, adj)
                total = total + x
        elif self.n_layers:
            total = total + self.n_layers * torch.zeros_like(x)  # no graph attached: propagation gives 0
        out = total / (self.n_layers + 1)
        res = (out[:self.n_users], out[self.n_users:])
        self._cache = (key, res)
        return res

    def user_vectors(self, batch: Batch) -> Tensor:
        return self.propagate()[0][batch.user_index]

    def item_vectors(self, item_index: Tensor, scenario: Tensor) -> Tensor:
        del scenario  # one item vector for every scenario
        return self.propagate()[1][item_index]

    def reg_vectors(self, batch: Batch, items: Tensor, negatives: Tensor | None) -> list[Tensor]:
        """The layer-0 embeddings of the batch's users, positives and negatives (RecBole-GNN's reg loss)."""
        out = [self.user(batch.user_index), self.item(items)]
        return out + ([self.item(negatives)] if negatives is not None else [])

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        return {"click": (self.user_vectors(batch) * self.item_vectors(batch.item_index, batch.scenario_id)).sum(1)}
