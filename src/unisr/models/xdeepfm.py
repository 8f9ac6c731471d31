"""xDeepFM (Lian et al., "xDeepFM: Combining Explicit and Implicit Feature Interactions for Recommender
Systems", KDD'18): linear part + Compressed Interaction Network (CIN) + plain DNN, summed into one logit
(paper eq. 14: y = sigma(w_lin^T a + w_dnn^T x_dnn + w_cin^T p^+ + b)).

Fields come from ``FieldStack`` (user, item, query = sum-pooled terms, scenario). A baseline of SRJGraph
(WSDM'22, sec. 5.2).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from unisr.data.batch import Batch
from unisr.data.features import FeatureSchema
from unisr.models.registry import FieldRankerConfig, register_model
from unisr.nn.embedding import embedding_rows, sparse_gradients
from unisr.nn.fields import FieldStack, FirstOrder, default_dim
from unisr.nn.mlp import ACTIVATIONS, MLP


class XDeepFMConfig(FieldRankerConfig):
    dim: int | None = None  # None = the schema's embedding size (16 on the simulated data)
    cin: list[int] = [64, 64]  # feature maps H_k per CIN layer
    cin_activation: str = "identity"  # the paper's CIN uses no non-linearity on the feature maps
    hidden: list[int] = [256, 128, 64]  # DNN part (same as the repo's DNN baseline)
    dropout: float = 0.0


class CIN(nn.Module):
    """Compressed Interaction Network (xDeepFM eqs. 6-8).

    X^k_h = sum_i sum_j W^{k,h}_{ij} (X^{k-1}_i o X^0_j): the outer product along the field axes, compressed by
    a 1x1 convolution; every layer's feature maps are sum-pooled over the embedding axis and concatenated.

    Shapes:
        x0: [B, m, D] -> p^+: [B, sum(layer_sizes)]
    """

    def __init__(self, num_fields: int, layer_sizes: list[int], activation: str = "identity") -> None:
        super().__init__()
        self.convs = nn.ModuleList()
        h = num_fields
        for size in layer_sizes:
            self.convs.append(nn.Conv1d(h * num_fields, size, kernel_size=1))
            h = size
        self.act = nn.Identity() if activation == "identity" else ACTIVATIONS[activation]()
        self.out_dim = sum(layer_sizes)

    def forward(self, x0: Tensor) -> Tensor:
        b, m, d = x0.shape
        xk, pooled = x0, []
        for conv in self.convs:
            z = (xk.unsqueeze(2) * x0.unsqueeze(1)).reshape(b, -1, d)  # [B, H_{k-1} * m, D]
            xk = self.act(conv(z))  # [B, H_k, D]
            pooled.append(xk.sum(2))
        return torch.cat(pooled, 1)


@register_model("xdeepfm", config=XDeepFMConfig,
                paper="Lian et al., xDeepFM: Combining Explicit and Implicit Feature Interactions, KDD'18",
                needs=("sparse", "dense", "scenario", "query_tokens"))
class XDeepFM(nn.Module):
    """Linear + CIN (explicit vector-wise interactions) + DNN (implicit interactions) on shared field embeddings.

    Shapes:
        batch -> {"click": [B] logits}
    """

    def __init__(self, fields: FieldStack, first_order: FirstOrder, cin: list[int], hidden: list[int], *,
                 cin_activation: str = "identity", dropout: float = 0.0) -> None:
        super().__init__()
        self.fields, self.first_order = fields, first_order
        self.cin = CIN(fields.num_fields, cin, cin_activation)
        self.cin_out = nn.Linear(self.cin.out_dim, 1, bias=False)  # w_cin
        self.dnn = MLP(fields.num_fields * fields.dim + fields.match_dim, hidden, 1, dropout=dropout)  # w_dnn on its last layer

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg: XDeepFMConfig) -> XDeepFM:
        sparse = sparse_gradients(embedding_rows(schema), cfg.sparse_grad)
        fields = FieldStack(schema, cfg.dim or default_dim(schema), sparse_grad=sparse, match=cfg.match_spec(), id_dropout=cfg.id_dropout)
        return cls(fields, FirstOrder(schema, sparse_grad=sparse, id_dropout=cfg.id_dropout), cfg.cin, cfg.hidden,
                   cin_activation=cfg.cin_activation, dropout=cfg.dropout)

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        x0 = self.fields(batch)
        deep = torch.cat([x0.flatten(1), self.fields.match_features(batch)], 1)  # match: only with ``match``
        logit = self.first_order(batch) + self.cin_out(self.cin(x0)).squeeze(1) + self.dnn(deep).squeeze(1)
        return {"click": logit}
