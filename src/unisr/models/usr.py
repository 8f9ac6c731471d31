"""USR: Unified Search and Recommendation over a multi-scenario backbone (Liu et al., SIGIR'24).

Input network (sec. 3.1): one shared embedding layer; the global user interest ``i_g`` from a BST-style
transformer over the mixed search + recommendation click sequence and the target item; the search and
recommendation view embeddings ``e_v^s``, ``e_v^r``; the scenario trigger (eq. 2) ``t_r = e_v^r`` and
``t_s = e_v^s + e_q``. Every sample gets both views (the paper: "for each instance, there will be both S&R
views representation simultaneously"); ``V_k`` picks the sample's own view.

- IE (eqs. 3-4): ``i_v = MLP(relu(i_g W(c) + b(c)))`` with ``[W, b] = reshape(FC(c))``, ``c = t_v ⊕ sg(i_g)``.
- FG (eqs. 6-7): ``f_v = MLP(e_a ⊙ sigmoid(MLP(t_v ⊕ sg(e_a))))``.
- Contrastive losses (eqs. 5, 8) on (i_s, i_r) and (f_s, f_r): ``extra_losses``.
- GLMT (eqs. 9-12): ``ŷ = ŷ_|g · ŷ_g`` with ``ŷ_|g = MLP(V_k)`` and ``ŷ_g = MSM(V_S&R)`` (the backbone), for
  CTR (global label ``global_click``) and CTCVR (global label ``global_buy``); returned as logits of the product.

Switches: ``use_ie`` / ``use_fg`` off drop the layer (``V`` then holds the raw ``e_a`` instead of ``f_v``, and
no ``i_v``) and its contrastive loss; ``use_glmt`` off predicts CTR/CTCVR with the backbone on ``V_S&R``
directly. ``query_input`` on: the query representation ``e_q`` (the one the trigger carries) also joins
``e_s`` (``auto``: only where no layer reads the trigger, IE and FG off; default off, the paper's USR, where the
query enters through ``t_s`` only). All three off with ``query_input`` on = the backbone on
``[i_g, e_a, e_s ⊕ e_q]``: the "Base" of the usr suite, which reads the same batch fields as USR.
``fg_keep_raw``: ``V`` carries the raw ``e_a`` beside ``f_v`` (not in the paper; off).

Shapes:
    batch -> {"click": [B], "ctcvr": [B] logits; with GLMT also "global_click", "global_buy" [B] logits
              (ŷ_g) and "usr/cond_click", "usr/cond_ctcvr" [B] logits (ŷ_|g); "usr/i_s", "usr/i_r",
              "usr/f_s", "usr/f_r" [B, d] view representations}
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import Field, field_validator, model_validator
from torch import Tensor, nn

from unisr.data.batch import Batch
from unisr.data.features import FeatureSchema
from unisr.models.backbone import BackboneInput, backbone_config, build_backbone
from unisr.models.registry import RankerConfig, register_model
from unisr.nn.embedding import FeatureEmbedding
from unisr.nn.mlp import MLP

# paper sec. 4.1.3: "the output sizes of hidden layers in the auxiliary task are set to {128, 64, 32}", mapped
# onto each backbone's own config keys; a backbone not listed here keeps its own defaults
AUX_DEFAULTS: dict[str, dict[str, Any]] = {
    "shared_bottom": {"bottom": [128, 64], "tower": [32]},
    "mmoe": {"expert": [128, 64], "tower": [32]},
    "ple": {"expert": [128, 64], "tower": [32]},
    "star": {"fcn": [128, 64, 32]},
    "m2m": {"output": [64, 32]},
    "apg": {"hidden": [128, 64, 32]},
}


class USRConfig(RankerConfig):
    # any registered model implementing ``unisr.models.backbone.ScenarioBackbone`` (shared_bottom, mmoe, ple,
    # star, m2m, apg, ...); ``backbone_params``: its own config keys over ``AUX_DEFAULTS``
    backbone: str = "star"
    backbone_params: dict[str, Any] = Field(default_factory=dict)
    dim: int = 32  # d
    transformer_layers: int = 1  # BST: one layer
    transformer_heads: int = 2
    transformer_ff: int = 64
    transformer_dropout: float = 0.0
    max_history: int = 64  # positions of the position embedding (>= data.history_len)
    dw_generator: list[int] = [64]  # FC layers that generate the DW weights from the condition
    ie_mlp: list[int] = [64]
    fg_gate: list[int] = [64]
    fg_mlp: list[int] = [64]
    main: list[int] = [128, 64, 32]  # main task MLP on V_k
    tau: float = 1.0
    cl_interest_weight: float = 0.01  # λ3
    cl_feature_weight: float = 0.01  # λ4
    cl_normalize: bool = False  # the paper uses raw dot products
    use_ie: bool = True
    use_fg: bool = True
    use_glmt: bool = True
    # the query e_q (pooled query tokens, + the trigger item in similar-product search: the e_q of eq. 2) as an
    # input of V too (appended to e_s): on; auto = only where no layer reads the trigger (IE and FG off), so a
    # model without USR's layers still sees the query; off (default: the paper's USR, and the records made
    # before issue 33, whose keys name no query_input) = e_q only through the trigger t_s
    query_input: Literal["auto", "on", "off"] = "off"
    # V also carries the raw e_a beside f_v (eqs. 10-11 hold f_v only; measured: docs/models/usr.md, "Issue 33")
    fg_keep_raw: bool = False

    @field_validator("query_input", mode="before")
    @classmethod
    def _on_off(cls, v: Any) -> Any:
        """``--set model.query_input=on`` parses as YAML true (``off`` as false): read them as the words."""
        return {True: "on", False: "off"}.get(v, v) if isinstance(v, bool) else v

    def reads_query(self) -> bool:
        """Whether e_q is part of V (``query_input``, auto = no layer reads the trigger)."""
        if self.query_input == "auto":
            return not (self.use_ie or self.use_fg)
        return self.query_input == "on"

    @model_validator(mode="after")
    def _check_backbone(self) -> USRConfig:
        backbone_config(self.backbone, self.aux_params())  # unknown / non-conforming backbone, bad params
        return self

    def aux_params(self) -> dict[str, Any]:
        """The backbone's config keys: the paper's auxiliary sizes (``AUX_DEFAULTS``) under ``backbone_params``."""
        return {**AUX_DEFAULTS.get(self.backbone, {}), **self.backbone_params}


def product_logit(a: Tensor, b: Tensor) -> Tensor:
    """logit(sigmoid(a) * sigmoid(b)), computed in log space (eq. 12's ŷ = ŷ_|g · ŷ_g)."""
    logp = (F.logsigmoid(a) + F.logsigmoid(b)).clamp(max=-1e-6)
    return logp - torch.log(-torch.expm1(logp))


def view_contrastive(s: Tensor, r: Tensor, tau: float, perm: Tensor, normalize: bool = False) -> Tensor:
    """Eqs. 5 / 8: positives ``s[perm]``, ``r[perm]`` (random in-batch samples of the same view), negatives
    every ``r^k`` of the batch. s, r: [B, d]; perm: [B] long -> scalar."""
    if normalize:
        s, r = F.normalize(s, dim=1), F.normalize(r, dim=1)
    pos = torch.stack([(s * s[perm]).sum(1), (r * r[perm]).sum(1)], 1) / tau  # [B, 2]
    neg = s @ r.T / tau  # [B, B]
    return (torch.logsumexp(torch.cat([pos, neg], 1), 1) - torch.logsumexp(pos, 1)).mean()


class DynamicWeightInterest(nn.Module):
    """S&R Views User Interest Extractor (eqs. 3-4): a DW layer whose weights are generated from
    ``t ⊕ sg(i_g)`` and applied to ``i_g``, then an MLP. Shared by both views (the trigger differs).

    Shapes:
        i_g [B, d], t [B, d] -> [B, d]
    """

    def __init__(self, dim: int, generator: list[int], hidden: list[int]) -> None:
        super().__init__()
        self.dim = dim
        self.gen = MLP(2 * dim, generator, dim * dim + dim)
        self.out = MLP(dim, hidden, dim)

    def generate(self, t: Tensor, cond_interest: Tensor) -> tuple[Tensor, Tensor]:
        p = self.gen(torch.cat([t, cond_interest], 1))
        d = self.dim
        return p[:, : d * d].view(-1, d, d), p[:, d * d:]

    def forward(self, i_g: Tensor, t: Tensor) -> Tensor:
        w, b = self.generate(t, i_g.detach())  # stop gradient: the condition never trains i_g
        return self.out(torch.relu(torch.bmm(i_g.unsqueeze(1), w).squeeze(1) + b))


class ViewFeatureGenerator(nn.Module):
    """S&R Views Feature Generator (eqs. 6-7): ``MLP(e_a ⊙ sigmoid(MLP(t ⊕ sg(e_a))))``; shared by both views.

    Shapes:
        e_a [B, D_a], t [B, d] -> [B, d]
    """

    def __init__(self, dim: int, agnostic_dim: int, gate: list[int], hidden: list[int]) -> None:
        super().__init__()
        self.gate = MLP(dim + agnostic_dim, gate, agnostic_dim)
        self.out = MLP(agnostic_dim, hidden, dim)

    def scale(self, e_a: Tensor, t: Tensor) -> Tensor:
        return torch.sigmoid(self.gate(torch.cat([t, e_a.detach()], 1)))  # stop gradient on the gate input

    def forward(self, e_a: Tensor, t: Tensor) -> Tensor:
        return self.out(e_a * self.scale(e_a, t))


@register_model(
    "usr", config=USRConfig,
    paper="Liu et al., A Unified Search and Recommendation Framework Based on Multi-Scenario Learning (USR), SIGIR'24",
    tasks=("click", "ctcvr"),
    defaults={
        "train": {"optimizer": "adamw", "lr": 1e-4, "weight_decay": 0.01,
                  # eq. 15: λ1 on both main tasks (CTR, CTCVR), λ2 on both global tasks; λ3, λ4 in the model config
                  "losses": {"click": 0.9, "ctcvr": 0.9, "global_click": 0.08, "global_buy": 0.08}},
        "data": {"batch_size": 1024, "embed_dim": 32, "history_len": 20, "global_labels": True},
    },
)
class USR(nn.Module):
    """USR framework: BST interest + S&R views (IE, FG, contrastive) + global-label multi-task on a backbone.

    Shapes:
        batch -> {"click", "ctcvr" (+ "global_click", "global_buy") [B] logits, "usr/*" representations}
    """

    def __init__(self, embedding: FeatureEmbedding, schema: FeatureSchema, cfg: USRConfig) -> None:
        super().__init__()
        d = cfg.dim
        self.cfg = cfg
        self.embedding = embedding
        s_count = schema.num_scenarios
        self.register_buffer("is_search", torch.tensor([k.startswith("search") for k in schema.scenario_kinds]),
                             persistent=False)
        # split the shared embedding layer's fields: scenario-agnostic (users/items tables) vs specific (events)
        self.agn_pos: list[list[int]] = []
        self.spec_pos: list[list[int]] = []
        self.item_field: tuple[int, int] | None = None
        agn_dim, spec_dim = 0, 0
        for g, idx in enumerate(embedding.group_fields):
            dg = embedding.groups[g].embedding_dim
            a = [j for j, f in enumerate(idx) if schema.sparse[f].table in ("users", "items")]
            sp = [j for j, f in enumerate(idx) if schema.sparse[f].table not in ("users", "items")]
            self.agn_pos.append(a)
            self.spec_pos.append(sp)
            agn_dim += len(a) * dg
            spec_dim += len(sp) * dg
            for j, f in enumerate(idx):
                if schema.sparse[f].name == "item_id":
                    self.item_field = (g, j)
        # item content is scenario-agnostic; the query's category and the trigger item's content are the
        # scenario's own (e_s), like the event-level id fields
        seqs = [f for f in schema.sequences if f.name != "query_tokens" and f.name in embedding.seq_names]
        self.seq_agn = [f.name for f in seqs if f.table == "items"]
        self.seq_spec = [f.name for f in seqs if f.table != "items"]
        vec_table = {v.name: v.table for v in schema.vectors}
        self.vec_agn = [vec_table.get(n) == "items" for n in embedding.vectors.names]
        vdims = embedding.vectors.dims
        agn_dim += (sum(embedding.seq.dim(n) for n in self.seq_agn) + embedding.num_dense
                    + sum(dv for dv, a in zip(vdims, self.vec_agn, strict=True) if a))
        spec_dim += (sum(embedding.seq.dim(n) for n in self.seq_spec)
                     + sum(dv for dv, a in zip(vdims, self.vec_agn, strict=True) if not a))
        qf = schema.sequence("query_tokens")
        qd = embedding.seq.dim("query_tokens") if qf is not None and "query_tokens" in embedding.seq_names else d
        self.q_proj = nn.Linear(qd, d) if qd != d else None
        # item ids (history + target): the item_id field's rows of the shared table when there is one
        if self.item_field is not None:
            self.item_emb = None
            g = self.item_field[0]
            item_dim = embedding.groups[g].embedding_dim
        else:
            self.item_emb = nn.Embedding(schema.num_items + 1, d, sparse=embedding.sparse_grad)
            nn.init.normal_(self.item_emb.weight, std=0.01)
            item_dim = d
        self.item_proj = nn.Linear(item_dim, d) if item_dim != d else None
        self.scenario_emb = nn.Embedding(s_count, d)  # behaviour-type embedding of history + e_s of the sample
        self.pos_emb = nn.Embedding(cfg.max_history + 1, d)
        self.views = nn.Embedding(2, d)  # e_v^r (0), e_v^s (1)
        for e in (self.scenario_emb, self.pos_emb, self.views):
            nn.init.normal_(e.weight, std=0.1)
        self.transformer = nn.TransformerEncoder(
            nn.TransformerEncoderLayer(d, cfg.transformer_heads, cfg.transformer_ff, cfg.transformer_dropout,
                                       batch_first=True),
            cfg.transformer_layers, enable_nested_tensor=False)
        self.ie = DynamicWeightInterest(d, cfg.dw_generator, cfg.ie_mlp) if cfg.use_ie else None
        self.fg = ViewFeatureGenerator(d, agn_dim, cfg.fg_gate, cfg.fg_mlp) if cfg.use_fg else None
        self.query_in_v = cfg.reads_query()
        self.raw_in_v = not cfg.use_fg or cfg.fg_keep_raw  # V holds the raw e_a (without FG, or beside f_v)
        e_s_dim = d + spec_dim + (d if self.query_in_v else 0)
        raw_dim = agn_dim if self.raw_in_v else 0
        view_dim = (d if cfg.use_ie else 0) + (d if cfg.use_fg else 0)
        vk_dim = d + view_dim + raw_dim + e_s_dim
        vsr_dim = d + 2 * view_dim + raw_dim + e_s_dim
        self.vk_dim, self.vsr_dim, self.agn_dim = vk_dim, vsr_dim, agn_dim
        self.main = MLP(vk_dim, cfg.main, 2) if cfg.use_glmt else None  # ŷ_|g for click, ctcvr
        inp = BackboneInput(in_dim=vsr_dim, num_scenarios=s_count, token_dim=d)
        self.aux = nn.ModuleDict({t: build_backbone(cfg.backbone, cfg.aux_params(), inp)
                                  for t in ("click", "ctcvr")})  # ŷ_g (or ŷ without GLMT)

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg: USRConfig) -> USR:
        return cls(FeatureEmbedding(schema, sparse_grad=cfg.sparse_grad), schema, cfg)

    # ------------------------------------------------------------------ input network
    def _items(self, ids: Tensor) -> Tensor:
        if self.item_emb is not None:
            e = self.item_emb(ids)
        else:
            g, j = self.item_field
            off = getattr(self.embedding, f"offsets_{g}")[j]  # the item_id field's rows in its group table
            e = self.embedding.groups[g](ids + off)
        return self.item_proj(e) if self.item_proj is not None else e

    def inputs(self, batch: Batch) -> dict[str, Tensor]:
        """e_a [B, D_a], e_s [B, d + D_s], e_q [B, d], i_g [B, d]."""
        emb = self.embedding
        groups = emb.fields(batch.sparse)
        agn = [x[:, self.agn_pos[g]].flatten(1) for g, x in enumerate(groups) if self.agn_pos[g]]
        spec = [x[:, self.spec_pos[g]].flatten(1) for g, x in enumerate(groups) if self.spec_pos[g]]
        b = len(batch)
        agn += emb.seq.pooled(batch, self.seq_agn)
        if emb.num_dense:
            agn.append(batch.dense)
        vecs = emb.vectors(batch)
        agn += [v for v, a in zip(vecs, self.vec_agn, strict=True) if a]
        spec += emb.seq.pooled(batch, self.seq_spec)
        spec += [v for v, a in zip(vecs, self.vec_agn, strict=True) if not a]
        d = self.cfg.dim
        e_q = batch.dense.new_zeros((b, d))
        if "query_tokens" in emb.seq_names and "query_tokens" in batch.sequences:
            q = emb.seq.pool("query_tokens", batch.sequences["query_tokens"][0])
            e_q = e_q + (self.q_proj(q) if self.q_proj is not None else q)
        if batch.trigger_index is not None:  # similar-product search: the trigger item is the query
            e_q = e_q + self._items(batch.trigger_index) * (batch.trigger_index > 0).unsqueeze(1)
        # BST: transformer over [history clicks (any scenario), target item]; i_g = the target position's output
        target = self._items(batch.item_index)
        if "history" in batch.sequences:
            h_ids, h_mask = batch.sequences["history"]
            h_scen = batch.sequences["history_scenario"][0]
            n = h_ids.shape[1]
            if n > self.cfg.max_history:
                raise ValueError(f"data.history_len {n} > model.max_history {self.cfg.max_history}")
            pos = torch.arange(n + 1, device=h_ids.device)
            tokens = torch.cat([self._items(h_ids) + self.scenario_emb(h_scen), target.unsqueeze(1)], 1)
            tokens = tokens + self.pos_emb(pos)
            pad = torch.cat([~h_mask, h_mask.new_zeros((b, 1))], 1)
            i_g = self.transformer(tokens, src_key_padding_mask=pad)[:, -1]
        else:
            tokens = (target + self.pos_emb.weight[0]).unsqueeze(1)
            i_g = self.transformer(tokens)[:, -1]
        e_s = torch.cat([self.scenario_emb(batch.scenario_id), *spec], 1)
        return {"e_a": torch.cat(agn, 1), "e_s": e_s, "e_q": e_q, "i_g": i_g}

    # ------------------------------------------------------------------ forward
    def forward(self, batch: Batch) -> dict[str, Tensor]:
        x = self.inputs(batch)
        i_g, e_a, e_s = x["i_g"], x["e_a"], x["e_s"]
        b = len(batch)
        t_r = self.views.weight[0].expand(b, -1)  # eq. 2
        t_s = self.views.weight[1] + x["e_q"]
        search = self.is_search[batch.scenario_id].unsqueeze(1)
        out: dict[str, Tensor] = {}
        s_parts: list[Tensor] = []
        r_parts: list[Tensor] = []
        if self.ie is not None:
            i_s, i_r = self.ie(i_g, t_s), self.ie(i_g, t_r)
            s_parts.append(i_s)
            r_parts.append(i_r)
            out["usr/i_s"], out["usr/i_r"] = i_s, i_r
        if self.fg is not None:
            f_s, f_r = self.fg(e_a, t_s), self.fg(e_a, t_r)
            s_parts.append(f_s)
            r_parts.append(f_r)
            out["usr/f_s"], out["usr/f_r"] = f_s, f_r
        if self.query_in_v:  # the same e_q the trigger carries, as an input of V
            e_s = torch.cat([e_s, x["e_q"]], 1)
        raw = [e_a] if self.raw_in_v else []
        own = [torch.where(search, s, r) for s, r in zip(s_parts, r_parts, strict=True)]
        v_sr = torch.cat([i_g, *s_parts, *r_parts, *raw, e_s], 1)  # eq. 11
        sid = batch.scenario_id
        if self.main is None:  # w/o GLMT: the backbone predicts the scenario labels directly
            out["click"] = self.aux["click"].forward_input(v_sr, sid)
            out["ctcvr"] = self.aux["ctcvr"].forward_input(v_sr, sid)
            return out
        v_k = torch.cat([i_g, *own, *raw, e_s], 1)  # eq. 10
        cond = self.main(v_k)  # ŷ_|g logits, eq. 12
        g_click = self.aux["click"].forward_input(v_sr, sid)  # ŷ_g logits, eq. 12
        g_buy = self.aux["ctcvr"].forward_input(v_sr, sid)
        out["usr/cond_click"], out["usr/cond_ctcvr"] = cond[:, 0], cond[:, 1]
        out["global_click"], out["global_buy"] = g_click, g_buy
        out["click"] = product_logit(cond[:, 0], g_click)
        out["ctcvr"] = product_logit(cond[:, 1], g_buy)
        return out

    def extra_losses(self, batch: Batch, outputs: dict[str, Tensor]) -> dict[str, Tensor]:
        """λ3 L_i (eq. 5) and λ4 L_f (eq. 8), already weighted; positives drawn with one in-batch permutation."""
        losses: dict[str, Tensor] = {}
        if not self.training:
            return losses
        n = len(batch)
        perm = torch.randperm(n, device=batch.scenario_id.device)
        c = self.cfg
        if "usr/i_s" in outputs and c.cl_interest_weight:
            losses["cl_interest"] = c.cl_interest_weight * view_contrastive(
                outputs["usr/i_s"], outputs["usr/i_r"], c.tau, perm, c.cl_normalize)
        if "usr/f_s" in outputs and c.cl_feature_weight:
            losses["cl_feature"] = c.cl_feature_weight * view_contrastive(
                outputs["usr/f_s"], outputs["usr/f_r"], c.tau, perm, c.cl_normalize)
        return losses
