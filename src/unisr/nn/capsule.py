"""MIND's multi-interest extractor and label-aware attention (Li et al., CIKM'19, "Multi-Interest Network with
Dynamic Routing for Recommendation at Tmall", sec. 3.3-3.4).

Behaviour-to-Interest (B2I) dynamic routing, the paper's Algorithm 1:
    K'_u = max(1, min(K, log2 |I_u|))                               (eq. 9, dynamic interest number; floor)
    b_ij ~ N(0, sigma^2)                                             (random, never trained)
    repeat r times:  w_ij = softmax_j(b_ij)                           (over the K'_u interests of behaviour i)
                     z_j  = sum_i w_ij S e_i                          (S: one bilinear map shared by all pairs)
                     u_j  = squash(z_j) = |z_j|^2 / (1 + |z_j|^2) z_j / |z_j|
                     b_ij = b_ij + u_j^T S e_i
Label-aware attention (eq. 10): v_u = V_u softmax(pow(V_u^T e_target, p)).

The initial logits b_ij are a persistent buffer drawn once from N(0, sigma^2) at construction (one value per
interest and recency slot, shared by all users; not a parameter, so never trained): the paper draws them
"randomly" and does not train them; a fixed draw keeps a user's interests the same at every evaluation.

Shapes:
    squash(z [*, d]) -> [*, d] (norm < 1)
    interest_count(mask [B, L], k) -> [B] long in 1..k
    B2IRouting(h [B, L, in_dim], mask [B, L] bool) -> (capsules [B, K, dim], interest_mask [B, K] bool)
    label_aware_attention(interests [B, K, d], target [B, d], interest_mask [B, K], p) -> ([B, d], weights [B, K])
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from unisr.nn.sequence import recency


def squash(z: Tensor, eps: float = 1e-9) -> Tensor:
    """|z|^2 / (1 + |z|^2) * z / |z| (0 for z = 0): the direction of z, its length squashed into [0, 1)."""
    n2 = (z * z).sum(-1, keepdim=True)
    return z * (n2 / (1.0 + n2)) / torch.sqrt(n2 + eps)


def interest_count(mask: Tensor, k: int) -> Tensor:
    """K'_u = max(1, min(K, floor(log2 |I_u|))), |I_u| = the row's valid behaviours."""
    n = mask.sum(1).clamp_min(1).to(torch.float32)
    return torch.floor(torch.log2(n)).long().clamp(1, k)


class B2IRouting(nn.Module):
    """Dynamic routing from behaviour capsules to K interest capsules (Algorithm 1).

    ``dynamic``: K'_u interests per user (eq. 9), the others masked; False = always K.
    ``positions``: rows of the initial-logit buffer (older recency slots share the last one).

    Shapes:
        forward(h [B, L, in_dim], mask [B, L] bool) -> (u [B, K, dim], interest_mask [B, K] bool)
    """

    def __init__(self, in_dim: int, dim: int, k: int, *, iterations: int = 3, positions: int = 50,
                 sigma: float = 1.0, dynamic: bool = True) -> None:
        super().__init__()
        if k < 1 or iterations < 1:
            raise ValueError(f"B2I routing needs k >= 1 and iterations >= 1, got {k}, {iterations}")
        self.k, self.iterations, self.dynamic = k, iterations, dynamic
        self.bilinear = nn.Linear(in_dim, dim, bias=False)  # S, shared by every (behaviour, interest) pair
        nn.init.normal_(self.bilinear.weight, std=in_dim ** -0.5)
        self.register_buffer("routing_init", torch.randn(k, positions) * sigma)

    def forward(self, h: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        bsz, n, _ = h.shape
        sh = self.bilinear(h)  # [B, L, d]
        pos = recency(mask).clamp_max(self.routing_init.shape[1] - 1)
        b = self.routing_init[:, pos].unsqueeze(0).expand(bsz, self.k, n)  # [B, K, L]
        if self.dynamic:
            imask = torch.arange(self.k, device=h.device)[None] < interest_count(mask, self.k)[:, None]
        else:
            imask = torch.ones(bsz, self.k, dtype=torch.bool, device=h.device)
        valid = mask.unsqueeze(1).to(h.dtype)  # padded behaviours route nothing
        u = None
        for it in range(self.iterations):
            w = torch.softmax(b.masked_fill(~imask[:, :, None], -math.inf), dim=1) * valid  # over interests
            u = squash(torch.einsum("bkl,bld->bkd", w, sh))
            if it < self.iterations - 1:
                b = b + torch.einsum("bkd,bld->bkl", u, sh)
        return u, imask


def label_aware_attention(interests: Tensor, target: Tensor, interest_mask: Tensor, p: float
                          ) -> tuple[Tensor, Tensor]:
    """v_u = sum_k a_k v_k, a = softmax_k(pow(<v_k, e_target>, p)) over the valid interests (eq. 10); p = inf is
    the hard attention (the interest with the largest score)."""
    s = torch.einsum("bkd,bd->bk", interests, target)
    if math.isinf(p):
        s = s.masked_fill(~interest_mask, -math.inf)
        a = torch.nn.functional.one_hot(s.argmax(1), s.shape[1]).to(interests.dtype)
    else:
        a = torch.softmax(torch.pow(s, p).masked_fill(~interest_mask, -math.inf), dim=1)
    return torch.einsum("bk,bkd->bd", a, interests), a
