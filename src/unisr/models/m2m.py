"""M2M: Multi-Scenario Multi-Task Meta Learning (Zhang et al., "Leaving No One Behind", WSDM'22)."""

from __future__ import annotations

import torch
from pydantic import Field
from torch import Tensor, nn

from unisr.data.batch import Batch
from unisr.data.features import FeatureSchema
from unisr.models.backbone import BackboneInput
from unisr.models.registry import RankerConfig, register_model
from unisr.nn.embedding import FeatureEmbedding
from unisr.nn.mlp import MLP
from unisr.nn.routing import ScenarioGroups


class M2MConfig(RankerConfig):
    # Scenario-Wise Rec MovieLens: num_experts 4, expert_output_size 16, transformer 2 layers, ff 16, 4 heads,
    # dropout 0.1, output MLP [64, 32], embedding 16. Heads 1 and dropout 0 here: on CPU, 4 heads of size 4
    # with dropout cost 3.2x the time per epoch (117 s vs 36 s for the two layers on MovieLens, 1 thread).
    num_experts: int = 4
    expert_dim: int = 16
    scenario_embed_dim: int = 16
    transformer_layers: int = 2
    transformer_heads: int = 1
    transformer_ff: int = 16
    transformer_dropout: float = 0.0
    meta_tower_layers: int = 1
    output: list[int] = [64, 32]
    # diagnostic (issue 38 item 3), not the paper's model: Scenario-Wise Rec's M2M calls nn.Transformer(D, 4 heads,
    # 2 encoder + 2 decoder layers, ff 16, dropout 0.1) on the flat [B, D] embedding (fields + scenario), which
    # torch reads as ONE unbatched sequence of B tokens: every sample attends to the other samples of its batch
    # (test batches included). True = that layer in place of the per-sample field-token encoder.
    batch_attention: bool = False
    batch_heads: int = 4
    batch_decoder_layers: int = 2
    batch_dropout: float = 0.1
    # 0 = attend across the whole batch (Scenario-Wise Rec); G > 0 = across consecutive groups of G samples (a
    # cheaper proxy: on 1 CPU thread the whole-batch layer at batch 4096 costs ~75 s per training step, measured)
    batch_attention_group: int = Field(0, ge=0)


class MetaLinear(nn.Module):
    """A linear layer whose weight and bias are generated from a condition vector (the meta learner).

    ``W = reshape(A_w c + a_w)``, ``b = A_b c + a_b``: the paper's ``MLP(scenario representation)`` with no
    hidden layer (the scenario representation ``c`` is itself an MLP output).

    Shapes:
        generate(c): c [cond_dim] -> (W [in_dim, out_dim], b [out_dim])
    """

    def __init__(self, cond_dim: int, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.in_dim, self.out_dim = in_dim, out_dim
        self.w_gen = nn.Linear(cond_dim, in_dim * out_dim)
        self.b_gen = nn.Linear(cond_dim, out_dim)

    def generate(self, c: Tensor) -> tuple[Tensor, Tensor]:
        return self.w_gen(c).view(self.in_dim, self.out_dim), self.b_gen(c)


@register_model("m2m", config=M2MConfig,
                paper="Zhang et al., Leaving No One Behind: Multi-Scenario Multi-Task Meta Learning (M2M), WSDM'22")
class M2M(nn.Module):
    """Transformer over field tokens -> experts; a meta unit generates per-scenario attention and tower weights.

    Scenario knowledge ``s = MLP(e_scenario)``; expert view ``E_i = expert_i(Transformer(fields))``; meta
    attention ``α = softmax_i(v^T σ(W_s [E_i ‖ t] + b_s))`` and meta tower ``h ← σ(W_s h + b_s + h)`` with
    ``(W_s, b_s)`` generated from ``s``. Parameters are generated once per scenario present in the batch and
    applied to that scenario's samples only. ``batch_attention`` (a diagnostic, off by default): Scenario-Wise
    Rec's layer instead, attention across the samples of the batch (a sample's logit depends on its batch).

    Shapes:
        batch -> {"click": [B] logits}
    """

    def __init__(self, embedding: FeatureEmbedding | None, num_scenarios: int, *, num_experts: int = 4,
                 expert_dim: int = 16, scenario_embed_dim: int = 16, transformer_layers: int = 2,
                 transformer_heads: int = 1, transformer_ff: int = 16, transformer_dropout: float = 0.0,
                 meta_tower_layers: int = 1, output: list[int] | None = None, in_dim: int | None = None,
                 token_dim: int | None = None, batch_attention: bool = False, batch_heads: int = 4,
                 batch_decoder_layers: int = 2, batch_dropout: float = 0.1, batch_attention_group: int = 0) -> None:
        super().__init__()
        if embedding is None:  # a core on prepared inputs x [B, in_dim]: ceil(in_dim / token_dim) tokens
            if in_dim is None or token_dim is None:
                raise ValueError("M2M without an embedding needs in_dim and token_dim")
            d = token_dim
            self.num_fields = -(-in_dim // d)
            self.pad = self.num_fields * d - in_dim
            num_dense = 0
        else:
            dims = set(embedding.field_dims)
            if len(dims) != 1 or embedding.seq_dim or embedding.vectors.out_dim:
                raise ValueError("M2M attends over field tokens: all sparse fields need one embedding dimension "
                                 f"and no sequence or vector fields (got dims {sorted(dims)}, sequences "
                                 f"{embedding.seq_dim}, vectors {embedding.vectors.out_dim})")
            d = dims.pop()
            self.num_fields = len(embedding.field_dims)
            self.pad = 0
            num_dense = embedding.num_dense
        self.embedding = embedding
        self.scenario_emb = nn.Embedding(num_scenarios, scenario_embed_dim)
        nn.init.normal_(self.scenario_emb.weight, std=0.1)
        self.scenario_token = nn.Linear(scenario_embed_dim, d) if scenario_embed_dim != d else nn.Identity()
        # expert view representation: self-attention over the feature tokens (fields + scenario)
        self.transformer = nn.TransformerEncoder(
            nn.TransformerEncoderLayer(d, transformer_heads, transformer_ff, transformer_dropout,
                                       batch_first=True),
            transformer_layers, enable_nested_tensor=False)
        in_dim = (self.num_fields + 1) * d + num_dense
        # the diagnostic: attention across the samples of a batch over the flat [B, (F+1) d] tokens
        self.batch_transformer = (nn.Transformer(
            (self.num_fields + 1) * d, batch_heads, transformer_layers, batch_decoder_layers, transformer_ff,
            batch_dropout, batch_first=True) if batch_attention else None)
        self.batch_group = batch_attention_group
        if batch_attention:
            self.transformer = None
        self.experts = nn.ModuleList(MLP(in_dim, [expert_dim], activation="leaky_relu") for _ in range(num_experts))
        # scenario knowledge representation and the (single, learned) task representation
        self.scenario_mlp = MLP(scenario_embed_dim, [expert_dim], activation="leaky_relu")
        self.task_emb = nn.Parameter(torch.randn(expert_dim) * 0.1)
        self.task_mlp = MLP(expert_dim, [expert_dim], activation="leaky_relu")
        # meta unit
        self.meta_attention = MetaLinear(expert_dim, 2 * expert_dim, 2 * expert_dim)
        self.v = nn.Parameter(torch.ones(2 * expert_dim))
        self.meta_tower = nn.ModuleList(MetaLinear(expert_dim, expert_dim, expert_dim)
                                        for _ in range(meta_tower_layers))
        self.act = nn.LeakyReLU(0.1)
        self.output = MLP(expert_dim, output if output is not None else [64, 32], 1)

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg: M2MConfig) -> M2M:
        return cls(FeatureEmbedding(schema, sparse_grad=cfg.sparse_grad), schema.num_scenarios,
                   num_experts=cfg.num_experts, expert_dim=cfg.expert_dim,
                   scenario_embed_dim=cfg.scenario_embed_dim, transformer_layers=cfg.transformer_layers,
                   transformer_heads=cfg.transformer_heads, transformer_ff=cfg.transformer_ff,
                   transformer_dropout=cfg.transformer_dropout, meta_tower_layers=cfg.meta_tower_layers,
                   output=cfg.output, batch_attention=cfg.batch_attention, batch_heads=cfg.batch_heads,
                   batch_decoder_layers=cfg.batch_decoder_layers, batch_dropout=cfg.batch_dropout,
                   batch_attention_group=cfg.batch_attention_group)

    @classmethod
    def as_backbone(cls, cfg: M2MConfig, inp: BackboneInput) -> M2M:
        """Reads the prepared input as ceil(in_dim / token_dim) tokens of ``inp.token_dim``."""
        if cfg.batch_attention:
            raise ValueError("M2M batch_attention is a diagnostic of the ranker only, not of the backbone")
        return cls(None, inp.num_scenarios, num_experts=cfg.num_experts, expert_dim=cfg.expert_dim,
                   scenario_embed_dim=cfg.scenario_embed_dim, transformer_layers=cfg.transformer_layers,
                   transformer_heads=cfg.transformer_heads, transformer_ff=cfg.transformer_ff,
                   transformer_dropout=cfg.transformer_dropout, meta_tower_layers=cfg.meta_tower_layers,
                   output=cfg.output, in_dim=inp.in_dim, token_dim=inp.token_dim)

    def scenario_repr(self, s: int) -> Tensor:
        """Scenario knowledge representation of scenario ``s``: [expert_dim]."""
        return self.scenario_mlp(self.scenario_emb.weight[s])

    def experts_view(self, batch: Batch) -> Tensor:
        """Expert view representation: [B, num_experts, expert_dim]."""
        (fields,) = self.embedding.fields(batch.sparse)  # [B, F, d]
        return self._experts(fields, batch.dense if self.embedding.num_dense else None, batch.scenario_id)

    def _experts(self, fields: Tensor, dense: Tensor | None, scenario_id: Tensor) -> Tensor:
        """fields [B, F, d] (+ dense [B, D]) -> [B, num_experts, expert_dim]."""
        tok = self.scenario_token(self.scenario_emb(scenario_id)).unsqueeze(1)
        if self.batch_transformer is not None:
            h = self._batch_attention(torch.cat([fields, tok], 1).flatten(1))
        else:
            h = self.transformer(torch.cat([fields, tok], 1)).flatten(1)
        if dense is not None:
            h = torch.cat([h, dense], 1)
        return torch.stack([e(h) for e in self.experts], 1)

    def _batch_attention(self, flat: Tensor) -> Tensor:
        """The diagnostic layer: flat [B, D] as sequences of samples (the whole batch, or groups of G). [B, D]."""
        g = self.batch_group or flat.shape[0]
        full = flat.shape[0] // g * g
        outs = []
        if full:  # [B // G, G, D]: each group one sequence (batch_first)
            x = flat[:full].view(-1, g, flat.shape[1])
            outs.append(self.batch_transformer(x, x).reshape(full, -1))
        if full < flat.shape[0]:  # the last, smaller group
            x = flat[full:].unsqueeze(0)
            outs.append(self.batch_transformer(x, x).squeeze(0))
        return torch.cat(outs, 0)

    def _meta(self, s: int, experts: Tensor) -> Tensor:
        """Meta attention + meta tower with scenario ``s``'s generated weights. [B_s, n, k] -> [B_s, k]."""
        c = self.scenario_repr(s)
        t = self.task_mlp(self.task_emb).expand(experts.shape[0], experts.shape[1], -1)
        w, b = self.meta_attention.generate(c)
        score = self.act(torch.cat([experts, t], 2) @ w + b) @ self.v  # [B_s, n]
        h = torch.einsum("bn,bnk->bk", torch.softmax(score, 1), experts)
        for layer in self.meta_tower:
            w, b = layer.generate(c)
            h = self.act(h @ w + b + h)
        return h

    def forward_input(self, x: Tensor, scenario_id: Tensor) -> Tensor:
        """Logits [B] of a prepared input x [B, in_dim], read as tokens of ``token_dim`` (zero-padded)."""
        if self.pad:
            x = torch.nn.functional.pad(x, (0, self.pad))
        e = self._experts(x.view(x.shape[0], self.num_fields, -1), None, scenario_id)
        return self.output(ScenarioGroups(scenario_id).apply(e, self._meta)).squeeze(1)

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        e = self.experts_view(batch)
        h = ScenarioGroups(batch.scenario_id).apply(e, self._meta)
        return {"click": self.output(h).squeeze(1)}
