"""YouTube DNN candidate generation (Covington et al., RecSys'16, sec. 3) as a matching model: the user vector is a
ReLU tower over [the mean of the embeddings of the user's watched items || the user's features], the item
vectors are the softmax's output embeddings, and training is a sampled softmax over the corpus (here
``train/matching.py``'s in-batch sampled softmax with the logQ correction, ``negatives: shared``); serving is
nearest-neighbour search of the inner product (sec. 3.2).

"Watched items" = the user's clicks of the training split (``attach_interactions``, called by the matching run
before training; kept as persistent buffers so a saved run evaluates and serves without the data), minus the
row's own item when it is one of them (the paper predicts a held-out watch from the others, sec. 3.4): a
training row never sees its target in its own input; a valid/test query sees the whole training bag.

Shapes:
    user_vectors(batch) -> [B, dim]; item_vectors(item_index [N], scenario [N]) -> [N, dim]
    watched_mean(user [B], item [B]) -> [B, watch_dim]
    forward(batch) -> {"click": [B] inner product of the batch's own (user, item)}
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from unisr.data.batch import Batch
from unisr.data.features import FeatureSchema
from unisr.graph.csr import from_coo
from unisr.models.registry import ModelConfig, register_model
from unisr.nn.mlp import MLP
from unisr.nn.two_tower import TableFields

BAG_BUFFERS = ("bag_indptr", "bag_items")


class YoutubeDNNConfig(ModelConfig):
    dim: int = Field(64, ge=1)  # the user / item vector dimension (the suite's embedding 64)
    watch_dim: int = Field(64, ge=1)  # the watched-item embedding (input side; the paper's 256)
    hidden: list[int] = [128]  # the ReLU tower below the output layer (the paper's best: 1024-512-256)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    user_features: bool = True  # concatenate the user table's fields (demographics; sec. 3.3)
    share_item_embedding: bool = False  # True = watched items use the output embeddings (the paper: separate)
    sparse_grad: bool | None = None  # as RankerConfig: None = by table size


@register_model("youtubednn", config=YoutubeDNNConfig, task="matching", needs=("sparse",),
                paper="Covington et al., RecSys'16 (Deep Neural Networks for YouTube Recommendations, "
                      "candidate generation)",
                defaults={"train": {"monitor": "mrr@10",
                                    "matching": {"loss": "softmax", "negatives": "shared", "logq": True,
                                                 "temperature": 1.0}}})
class YoutubeDNN(nn.Module):
    """YouTube DNN: ReLU tower over (mean watched-item embedding || user features), softmax item embeddings.

    Shapes:
        user_vectors(batch) -> [B, dim]; item_vectors(item_index [N], scenario [N]) -> [N, dim]
    """

    scenario_items = False  # item_vectors ignore the scenario

    def __init__(self, schema: FeatureSchema, cfg: YoutubeDNNConfig) -> None:
        super().__init__()
        self.n_users, self.n_items = schema.num_users + 1, schema.num_items + 1
        self.out_item = nn.Embedding(self.n_items, cfg.dim)
        nn.init.normal_(self.out_item.weight, std=cfg.dim ** -0.5)
        self.share = cfg.share_item_embedding
        if self.share and cfg.watch_dim != cfg.dim:
            raise ValueError(f"share_item_embedding needs watch_dim == dim, got {cfg.watch_dim} and {cfg.dim}")
        self.watch = None if self.share else nn.Embedding(self.n_items, cfg.watch_dim)
        if self.watch is not None:
            nn.init.normal_(self.watch.weight, std=cfg.watch_dim ** -0.5)
        self.user_fields = TableFields(schema, "users", sparse_grad=cfg.sparse_grad) if cfg.user_features else None
        in_dim = cfg.watch_dim + (self.user_fields.out_dim if self.user_fields is not None else 0)
        self.tower = MLP(in_dim, cfg.hidden, cfg.dim, dropout=cfg.dropout)
        self.register_buffer("bag_indptr", torch.zeros(self.n_users + 1, dtype=torch.long))  # empty until attached
        self.register_buffer("bag_items", torch.zeros(0, dtype=torch.long))

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg: YoutubeDNNConfig) -> YoutubeDNN:
        return cls(schema, cfg)

    def attach_interactions(self, train) -> None:  # noqa: ANN001 (evaluate.retrieval.Interactions)
        """Each user's watched items: the unique training clicks, as a CSR (indptr [U + 2], items sorted)."""
        ui = from_coo(train.user, train.item, self.n_users, self.n_items, dedupe=True)
        self.bag_indptr = torch.as_tensor(ui.indptr, dtype=torch.long)
        self.bag_items = torch.as_tensor(ui.indices.astype(np.int64))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:  # noqa: ANN001, ANN002, ANN003
        for name in BAG_BUFFERS:  # the saved bags' size is the saved run's: take its shape
            if prefix + name in state_dict:
                setattr(self, name, torch.empty_like(state_dict[prefix + name]))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def watched_mean(self, user: Tensor, item: Tensor) -> Tensor:
        """Mean input embedding of each row's watched items other than its own ``item`` (zeros for none)."""
        table = self.out_item if self.watch is None else self.watch
        start = self.bag_indptr[user]
        lens = self.bag_indptr[user + 1] - start
        total = int(lens.sum())
        offsets = torch.cumsum(lens, 0) - lens
        row = torch.repeat_interleave(torch.arange(len(user)), lens)
        pos = torch.arange(total) - offsets[row] + start[row]
        idx = self.bag_items[pos]
        keep = (idx != item[row]).float()
        count = torch.zeros(len(user)).index_add_(0, row, keep)
        w = keep / count.clamp_min(1.0)[row]
        return F.embedding_bag(idx, table.weight, offsets, mode="sum", per_sample_weights=w)

    def user_vectors(self, batch: Batch) -> Tensor:
        x = self.watched_mean(batch.user_index, batch.item_index)
        if self.user_fields is not None:
            x = torch.cat([x, self.user_fields(*self.user_fields.columns(batch))], 1)
        return self.tower(x)

    def item_vectors(self, item_index: Tensor, scenario: Tensor) -> Tensor:
        del scenario  # one item vector for every scenario
        return self.out_item(item_index)

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        return {"click": (self.user_vectors(batch) * self.item_vectors(batch.item_index, batch.scenario_id)).sum(1)}
