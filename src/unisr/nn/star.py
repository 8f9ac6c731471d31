"""STAR building blocks (Sheng et al., CIKM'21): partitioned normalisation and star-topology linear layers."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class PartitionedNorm(nn.Module):
    """PN: ``(gamma * gamma_s) * (x - mu_s) / sqrt(var_s + eps) + (beta + beta_s)`` for a sample of scenario s.

    Training uses the statistics of the scenario's samples in the batch and updates that scenario's moving
    averages; evaluation uses the scenario's moving averages (paper, sec. 3.3). ``scenario_affine=False``: no
    ``gamma_s``, ``beta_s`` (one shared scale and bias; the scenario's statistics only).

    Shapes:
        x: [B_s, d] (all samples of scenario s) -> [B_s, d]
    """

    def __init__(self, num_scenarios: int, dim: int, *, momentum: float = 0.1, eps: float = 1e-5,
                 scenario_affine: bool = True) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(dim))
        self.beta = nn.Parameter(torch.zeros(dim))
        self.gamma_s = nn.Parameter(torch.ones(num_scenarios, dim)) if scenario_affine else None
        self.beta_s = nn.Parameter(torch.zeros(num_scenarios, dim)) if scenario_affine else None
        self.register_buffer("running_mean", torch.zeros(num_scenarios, dim))
        self.register_buffer("running_var", torch.ones(num_scenarios, dim))
        self.momentum, self.eps = momentum, eps

    def forward(self, x: Tensor, s: int) -> Tensor:
        if self.training and x.shape[0] > 1:
            mean = x.mean(0)
            var = x.var(0, unbiased=False)
            with torch.no_grad():
                n = x.shape[0]
                self.running_mean[s].lerp_(mean.detach(), self.momentum)
                self.running_var[s].lerp_(var.detach() * n / max(n - 1, 1), self.momentum)
        else:
            mean, var = self.running_mean[s], self.running_var[s]
        xh = (x - mean) * torch.rsqrt(var + self.eps)
        if self.gamma_s is None:
            return xh * self.gamma + self.beta
        return xh * (self.gamma * self.gamma_s[s]) + (self.beta + self.beta_s[s])


class StarLinear(nn.Module):
    """``x (W ⊙ W_s) + (b + b_s)`` for the samples of scenario s (paper eq. 1-2).

    Scenario weights start at one and scenario biases at zero, so every scenario starts from the shared layer.

    Shapes:
        x: [B_s, in_dim] -> [B_s, out_dim]
    """

    def __init__(self, num_scenarios: int, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(in_dim, out_dim))
        self.bias = nn.Parameter(torch.zeros(out_dim))
        self.weight_s = nn.Parameter(torch.ones(num_scenarios, in_dim, out_dim))
        self.bias_s = nn.Parameter(torch.zeros(num_scenarios, out_dim))
        nn.init.kaiming_uniform_(self.weight.T, a=math.sqrt(5))

    def forward(self, x: Tensor, s: int) -> Tensor:
        return x @ (self.weight * self.weight_s[s]) + (self.bias + self.bias_s[s])
