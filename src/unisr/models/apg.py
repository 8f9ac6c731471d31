"""APG: Adaptive Parameter Generation network (Yan et al., NeurIPS'22) with the scenario as condition."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from unisr.data.batch import Batch
from unisr.data.features import FeatureSchema
from unisr.models.backbone import BackboneInput
from unisr.models.registry import FieldRankerConfig, register_model
from unisr.nn.embedding import FeatureEmbedding
from unisr.nn.mlp import MLP
from unisr.nn.routing import ScenarioGroups


class APGConfig(FieldRankerConfig):
    hidden: list[int] = [128, 64, 32]  # the MLP sizes the other Scenario-Wise Rec MovieLens baselines use
    rank: int = 32  # K of W = U S V
    scenario_embed_dim: int = 16
    # condition of the generated weights: the scenario only (per-scenario weights, routed) or the scenario
    # plus the user-table fields' embeddings (per-sample weights)
    condition: Literal["scenario", "scenario_user"] = "scenario"
    generator: list[int] = []  # hidden sizes of the network S = reshape(MLP(z)); [] = one linear map
    overparam: int = 0  # P of the over-parameterisation U = U_l U_r, V = V_l V_r (0 = off)


class APGLinear(nn.Module):
    """``y = x W(z) + b`` with the low-rank generated weight ``W(z) = U S(z) V``.

    ``U`` [in, K] and ``V`` [K, out] are shared by all conditions; only the K x K core
    ``S(z) = reshape(MLP(z))`` is generated. With over-parameterisation (``overparam`` P > 0)
    ``U = U_l U_r`` ([in, P] [P, K]) and ``V = V_l V_r`` ([K, P] [P, out]) during training; at inference the
    products are the same matrices. ``x W`` is computed as ``((x U) S) V`` and never materialises ``W`` per
    sample.

    Shapes:
        core(z): z [*, cond_dim] -> S [*, K, K]
        forward(x, S): x [B, in], S [K, K] (one condition) or [B, K, K] (per sample) -> [B, out]
    """

    def __init__(self, in_dim: int, out_dim: int, cond_dim: int, rank: int, *, generator: list[int] | None = None,
                 overparam: int = 0) -> None:
        super().__init__()
        self.rank = rank
        if overparam > 0:
            self.u_l = nn.Parameter(torch.randn(in_dim, overparam) / in_dim ** 0.5)
            self.u_r = nn.Parameter(torch.randn(overparam, rank) / overparam ** 0.5)
            self.v_l = nn.Parameter(torch.randn(rank, overparam) / rank ** 0.5)
            self.v_r = nn.Parameter(torch.randn(overparam, out_dim) / overparam ** 0.5 * 2 ** 0.5)
        else:
            self.u = nn.Parameter(torch.randn(in_dim, rank) / in_dim ** 0.5)
            self.v = nn.Parameter(torch.randn(rank, out_dim) / rank ** 0.5 * 2 ** 0.5)  # He gain for ReLU
        self.bias = nn.Parameter(torch.zeros(out_dim))
        self.gen = MLP(cond_dim, generator or [], rank * rank)
        last = self.gen.net[-1]
        assert isinstance(last, nn.Linear)
        with torch.no_grad():  # S starts near the identity: W starts as the shared U V
            last.weight.mul_(0.1)
            last.bias.copy_(torch.eye(rank).flatten())

    @property
    def U(self) -> Tensor:  # noqa: N802
        return self.u_l @ self.u_r if hasattr(self, "u_l") else self.u

    @property
    def V(self) -> Tensor:  # noqa: N802
        return self.v_l @ self.v_r if hasattr(self, "v_l") else self.v

    def core(self, z: Tensor) -> Tensor:
        return self.gen(z).unflatten(-1, (self.rank, self.rank))

    def weight(self, s: Tensor) -> Tensor:
        """The explicit generated weight ``U S V``: [in, out] (or [B, in, out]); for tests and inspection."""
        return self.U @ s @ self.V

    def forward(self, x: Tensor, s: Tensor) -> Tensor:
        h = x @ self.U
        h = h @ s if s.dim() == 2 else torch.bmm(h.unsqueeze(1), s).squeeze(1)
        return h @ self.V + self.bias


@register_model("apg", config=APGConfig,
                paper="Yan et al., APG: Adaptive Parameter Generation Network for CTR Prediction, NeurIPS'22")
class APG(nn.Module):
    """An MLP whose layer weights ``U S(z) V`` are generated from the scenario (optionally + user) condition.

    With the scenario as the only condition every scenario's weights are generated once per batch and run on
    that scenario's samples only; with user features in the condition the core ``S`` is per sample.

    Shapes:
        batch -> {"click": [B] logits}
    """

    def __init__(self, embedding: FeatureEmbedding | None, num_scenarios: int, hidden: list[int], *, rank: int = 32,
                 scenario_embed_dim: int = 16, user_fields: list[int] | None = None,
                 generator: list[int] | None = None, overparam: int = 0, in_dim: int | None = None) -> None:
        super().__init__()
        self.embedding = embedding  # None: a core on prepared inputs (``forward_input``, ``in_dim`` wide)
        self.scenario_emb = nn.Embedding(num_scenarios, scenario_embed_dim)
        nn.init.normal_(self.scenario_emb.weight, std=0.1)
        self.user_fields = user_fields or []
        if embedding is None and self.user_fields:
            raise ValueError("APG on prepared inputs supports the scenario condition only")
        user_dim = sum(embedding.field_dims[i] for i in self.user_fields) if embedding is not None else 0
        # column ranges of the user fields in the flat embedding (fields are grouped by dimension)
        self.user_cols: list[tuple[int, int]] = []
        start = 0
        for g, idx in enumerate(embedding.group_fields if embedding is not None else []):
            dg = embedding.groups[g].embedding_dim
            self.user_cols += [(start + j * dg, start + (j + 1) * dg) for j, f in enumerate(idx)
                               if f in self.user_fields]
            start += len(idx) * dg
        cond = scenario_embed_dim + user_dim
        dims = [embedding.out_dim if embedding is not None else in_dim, *hidden]
        self.layers = nn.ModuleList(APGLinear(a, b, cond, rank, generator=generator, overparam=overparam)
                                    for a, b in zip(dims[:-1], dims[1:], strict=True))
        self.act = nn.ReLU()
        self.out = nn.Linear(dims[-1], 1)

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg: APGConfig) -> APG:
        user = [i for i, f in enumerate(schema.sparse) if f.table == "users"] if cfg.condition == "scenario_user" \
            else []
        if cfg.condition == "scenario_user" and not user:
            raise ValueError("condition 'scenario_user' needs sparse fields of the users table")
        return cls(FeatureEmbedding(schema, sparse_grad=cfg.sparse_grad, match=cfg.match_spec(),
                                    id_dropout=cfg.id_dropout), schema.num_scenarios, cfg.hidden,
                   rank=cfg.rank, scenario_embed_dim=cfg.scenario_embed_dim, user_fields=user,
                   generator=cfg.generator, overparam=cfg.overparam)

    @classmethod
    def as_backbone(cls, cfg: APGConfig, inp: BackboneInput) -> APG:
        """The scenario condition only: a prepared input has no user fields to condition on."""
        if cfg.condition != "scenario":
            raise ValueError("APG as a backbone supports condition 'scenario' only")
        return cls(None, inp.num_scenarios, cfg.hidden, rank=cfg.rank, scenario_embed_dim=cfg.scenario_embed_dim,
                   generator=cfg.generator, overparam=cfg.overparam, in_dim=inp.in_dim)

    def _mlp(self, x: Tensor, cores: list[Tensor]) -> Tensor:
        for layer, s in zip(self.layers, cores, strict=True):
            x = self.act(layer(x, s))
        return self.out(x)

    def _scenario(self, s: int, x: Tensor) -> Tensor:
        z = self.scenario_emb.weight[s]
        return self._mlp(x, [layer.core(z) for layer in self.layers])

    def forward_input(self, x: Tensor, scenario_id: Tensor) -> Tensor:
        """Logits [B] of a prepared input x [B, in_dim] (scenario condition)."""
        return ScenarioGroups(scenario_id).apply(x, self._scenario).squeeze(1)

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        x = self.embedding(batch)
        if not self.user_fields:
            logit = ScenarioGroups(batch.scenario_id).apply(x, self._scenario)
        else:  # per-sample condition: x U -> bmm with S_b -> V
            z = torch.cat([self.scenario_emb(batch.scenario_id), *[x[:, a:b] for a, b in self.user_cols]], 1)
            logit = self._mlp(x, [layer.core(z) for layer in self.layers])
        return {"click": logit.squeeze(1)}
