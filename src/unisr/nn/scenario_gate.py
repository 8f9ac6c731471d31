"""SASS's layers (Zhang et al., CIKM'22, sec. 4.1): the scenario auxiliary network (eq. 2), the scenario-adaptive
gate unit (eqs. 3-6) and its ablation variants, the Multi-Layer Scenario Adaptive Transfer stack (ML-SAT) with the
scenario bias fusion (eqs. 7-8), the global shared network, and self-attention pooling of a behaviour sequence.

The gate unit of layer l reads the global shared network's l-th output g_l, the scenario network's previous state
s_{l-1} and the scenario auxiliary output a:

    r_l = sigmoid(W_r [g_l, s_{l-1}] + W_br a)          (3)  adaptive gate
    h_l = tanh(W_h [r_l * g_l, s_{l-1}])                 (4)  candidate
    z_l = sigmoid(W_z [g_l, s_{l-1}] + W_bz a)          (5)  update gate
    s_l = (1 - z_l) * s_{l-1} + z_l * h_l               (6)  (z_l = 0 keeps the previous state)

Variants (``GateKind``, the ablations of table 3; each writes s_l from the same inputs):
    adaptive   : eqs. 3-6 (SASS)
    none       : SASS* - no transfer gate, s_l = tanh(W_h [g_l, s_{l-1}])
    production : s_l = g_l * tanh(W_h s_{l-1})  (element-wise product with the global output, STAR-like)
    simnet     : w = sigmoid(MLP([g*s, g-s, g+s])), s_l = w * g_l + (1 - w) * tanh(W_h s_{l-1})
    sigmoid    : w = sigmoid(W [s_{l-1}, g_l]),      s_l = w * g_l + (1 - w) * tanh(W_h s_{l-1})  (MMoE-like)

Shapes:
    ScenarioAuxNet: scenario [B] long -> a [B, d]
    ScenarioGateUnit: (g [B, d], s_prev [B, d], a [B, d]) -> s [B, d]; .gates(...) -> (r [B, d], z [B, d])
    ScenarioBiasFusion: (s_T [B, d], a [B, d]) -> e [B, d]
    MLSAT: (x [B, in], g [B, T, d], a [B, d]) -> e [B, d]
    ScenarioAdaptiveTower: (x [B, in], scenario [B]) -> (e [B, d], g_T [B, d]), routed by scenario
    GlobalSharedNet: x [B, in] -> g [B, T, d] (g[:, -1] = g_T, the global representation of eqs. 12-13)
    SelfAttentionPooling: (h [B, L, d], mask [B, L] bool) -> [B, d] (zeros where a row has no valid item)
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from unisr.nn.routing import ScenarioGroups

GateKind = Literal["adaptive", "none", "production", "simnet", "sigmoid"]
GATE_KINDS: tuple[str, ...] = ("adaptive", "none", "production", "simnet", "sigmoid")


class ScenarioAuxNet(nn.Module):
    """Eq. 2: a = f(W_a x_a + b_a), x_a the embedding of the scenario context (the scenario id), f an MLP.
    ``bounded``: a tanh on the output, so a lives on the scale of the ML-SAT states s_l (tanh / convex mixes of
    tanh, in (-1, 1)) that eq. 7 mixes it with (unbounded, the paper's MLP, a per-scenario constant a can
    outgrow s_T; measured in docs/models/sass.md: no gain from bounding it).

    Shapes:
        forward(scenario [B] long) -> [B, dim]
    """

    def __init__(self, num_scenarios: int, embed_dim: int, dim: int, hidden: int | None = None,
                 bounded: bool = False) -> None:
        super().__init__()
        self.embed = nn.Embedding(num_scenarios, embed_dim)
        hidden = hidden or dim
        self.net = nn.Sequential(nn.Linear(embed_dim, hidden), nn.ReLU(), nn.Linear(hidden, dim))
        self.bounded = bounded

    def forward(self, scenario: Tensor) -> Tensor:
        a = self.net(self.embed(scenario))
        return torch.tanh(a) if self.bounded else a


class ScenarioGateUnit(nn.Module):
    """One layer of ML-SAT: the scenario-adaptive gate unit (eqs. 3-6) or one of its ablation variants.

    Shapes:
        forward(g [B, d], s_prev [B, d], a [B, d]) -> [B, d]
    """

    def __init__(self, dim: int, kind: GateKind = "adaptive") -> None:
        super().__init__()
        if kind not in GATE_KINDS:
            raise ValueError(f"gate kind {kind!r} is not one of {GATE_KINDS}")
        self.kind = kind
        if kind == "adaptive":
            self.w_r = nn.Linear(2 * dim, dim)  # W_r^l (its bias is the unit's only bias term besides W_br a)
            self.w_br = nn.Linear(dim, dim, bias=False)  # W_br
            self.w_z = nn.Linear(2 * dim, dim)  # W_z^l
            self.w_bz = nn.Linear(dim, dim, bias=False)  # W_bz
            self.w_h = nn.Linear(2 * dim, dim)  # W_h^l
        elif kind == "none":
            self.w_h = nn.Linear(2 * dim, dim)
        else:
            self.w_h = nn.Linear(dim, dim)
            if kind == "simnet":
                self.w_g = nn.Sequential(nn.Linear(3 * dim, dim), nn.ReLU(), nn.Linear(dim, dim))
            elif kind == "sigmoid":
                self.w_g = nn.Linear(2 * dim, dim)

    def gates(self, g: Tensor, s_prev: Tensor, a: Tensor) -> tuple[Tensor, Tensor]:
        """(r_l, z_l) of eqs. 3 and 5 (the adaptive unit only)."""
        if self.kind != "adaptive":
            raise ValueError(f"gate kind {self.kind!r} has no adaptive / update gates")
        gs = torch.cat([g, s_prev], -1)
        return torch.sigmoid(self.w_r(gs) + self.w_br(a)), torch.sigmoid(self.w_z(gs) + self.w_bz(a))

    def forward(self, g: Tensor, s_prev: Tensor, a: Tensor) -> Tensor:
        if self.kind == "adaptive":
            r, z = self.gates(g, s_prev, a)
            h = torch.tanh(self.w_h(torch.cat([r * g, s_prev], -1)))  # eq. 4
            return (1 - z) * s_prev + z * h  # eq. 6
        if self.kind == "none":
            return torch.tanh(self.w_h(torch.cat([g, s_prev], -1)))
        h = torch.tanh(self.w_h(s_prev))
        if self.kind == "production":
            return g * h
        x = (torch.cat([g * s_prev, g - s_prev, g + s_prev], -1) if self.kind == "simnet"
             else torch.cat([s_prev, g], -1))
        w = torch.sigmoid(self.w_g(x))
        return w * g + (1 - w) * h


class ScenarioBiasFusion(nn.Module):
    """Eqs. 7-8: e = alpha * s_T + (1 - alpha) * a, alpha = sigmoid(W_o [s_T, a]) (one weight per dimension).

    Shapes:
        forward(s_T [B, d], a [B, d]) -> [B, d]
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.w_o = nn.Linear(2 * dim, dim)

    def forward(self, s: Tensor, a: Tensor) -> Tensor:
        alpha = torch.sigmoid(self.w_o(torch.cat([s, a], -1)))
        return alpha * s + (1 - alpha) * a


class GlobalSharedNet(nn.Module):
    """The global shared network: an MLP of T layers of width d, shared by every scenario; every layer's output
    g_l feeds layer l of each scenario's ML-SAT.

    Shapes:
        forward(x [B, in]) -> [B, T, d]
    """

    def __init__(self, in_dim: int, dim: int, layers: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(in_dim if i == 0 else dim, dim) for i in range(layers))

    def forward(self, x: Tensor) -> Tensor:
        out = []
        for lin in self.layers:
            x = torch.relu(lin(x))
            out.append(x)
        return torch.stack(out, 1)


class MLSAT(nn.Module):
    """One scenario's specific network: s_0 = tanh(W_0 x) (the scenario's own input layer), T gate units
    (eqs. 3-6) over the global outputs g_1..g_T, then the scenario bias fusion (eqs. 7-8, ``fusion=False``: e = s_T).

    Shapes:
        forward(x [B, in], g [B, T, d], a [B, d]) -> [B, d]
    """

    def __init__(self, in_dim: int, dim: int, layers: int, gate: GateKind = "adaptive", fusion: bool = True) -> None:
        super().__init__()
        self.inp = nn.Linear(in_dim, dim)
        self.units = nn.ModuleList(ScenarioGateUnit(dim, gate) for _ in range(layers))
        self.fusion = ScenarioBiasFusion(dim) if fusion else None

    def forward(self, x: Tensor, g: Tensor, a: Tensor) -> Tensor:
        if g.shape[1] != len(self.units):
            raise ValueError(f"ML-SAT of {len(self.units)} layers got {g.shape[1]} global layer outputs")
        s = torch.tanh(self.inp(x))
        for layer, unit in enumerate(self.units):
            s = unit(g[:, layer], s, a)
        return self.fusion(s, a) if self.fusion is not None else s


class SelfAttentionPooling(nn.Module):
    """Self-attention (one multi-head Transformer attention block with a residual and layer norm) over a
    behaviour sequence, then the mean over its valid positions.

    Shapes:
        forward(h [B, L, d], mask [B, L] bool) -> [B, d]; rows without a valid position give zeros
    """

    def __init__(self, dim: int, heads: int = 2) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"self-attention pooling: dim {dim} is not divisible by heads {heads}")
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm = nn.LayerNorm(dim)

    def forward(self, h: Tensor, mask: Tensor) -> Tensor:
        any_valid = mask.any(1)
        # a row with no valid position attends to its first slot (then zeroed), never to an all -inf row
        key_pad = ~mask
        key_pad[:, 0] &= any_valid
        att, _ = self.attn(h, h, h, key_padding_mask=key_pad, need_weights=False)
        y = self.norm(h + att)
        m = mask.unsqueeze(2).to(y.dtype)
        return (y * m).sum(1) / m.sum(1).clamp_min(1.0)


class ScenarioAdaptiveTower(nn.Module):
    """One side (user or item) of SASS: the global shared network, the scenario auxiliary network and one
    ML-SAT per scenario. Rows are routed by scenario (``nn/routing.py:ScenarioGroups``): each scenario's ML-SAT
    runs on its own rows only.

    Shapes:
        forward(x [B, in], scenario [B] long) -> (e [B, d] scenario output, g_T [B, d] global output)
    """

    def __init__(self, in_dim: int, num_scenarios: int, dim: int, layers: int, *, scenario_embed_dim: int = 16,
                 gate: GateKind = "adaptive", fusion: bool = True, bounded_aux: bool = False) -> None:
        super().__init__()
        self.num_scenarios = num_scenarios
        self.shared = GlobalSharedNet(in_dim, dim, layers)
        self.aux = ScenarioAuxNet(num_scenarios, scenario_embed_dim, dim, bounded=bounded_aux)
        self.scenario = nn.ModuleList(MLSAT(in_dim, dim, layers, gate, fusion) for _ in range(num_scenarios))

    def forward(self, x: Tensor, scenario: Tensor) -> tuple[Tensor, Tensor]:
        if len(scenario) and (int(scenario.min()) < 0 or int(scenario.max()) >= self.num_scenarios):
            raise ValueError(f"scenario index out of range 0..{self.num_scenarios - 1}")
        g = self.shared(x)
        a = self.aux(scenario)
        e = ScenarioGroups(scenario).apply((x, g, a), lambda s, t: self.scenario[s](*t))
        return e, g[:, -1]
