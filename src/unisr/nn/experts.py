"""Mixture-of-experts pieces shared by MMoE, PLE and TreeMS's MMoE baseline: ``n`` expert MLPs on one input and
their softmax-gated mixture.

Shapes:
    Experts: x [B, in_dim] -> [B, n, out_dim]
    mix: gate_logits [B, n], experts [B, n, d] -> [B, d]
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from unisr.nn.mlp import MLP


class Experts(nn.Module):
    """``n`` expert MLPs applied to the same input.

    Shapes:
        x: [B, in_dim] -> [B, n, out_dim]
    """

    def __init__(self, n: int, in_dim: int, hidden: list[int], dropout: float = 0.0, *,
                 layer_norm: bool = False) -> None:
        super().__init__()
        self.experts = nn.ModuleList(MLP(in_dim, hidden, dropout=dropout, layer_norm=layer_norm) for _ in range(n))
        self.out_dim = hidden[-1]

    def forward(self, x: Tensor) -> Tensor:
        return torch.stack([e(x) for e in self.experts], dim=1)


def mix(gate_logits: Tensor, experts: Tensor) -> Tensor:
    """Softmax-gated sum. gate_logits [B, n], experts [B, n, d] -> [B, d]."""
    return torch.einsum("bn,bnd->bd", torch.softmax(gate_logits, dim=-1), experts)
