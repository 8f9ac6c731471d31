"""BOMGraph's disentangled representation (Fan et al., CIKM'23, section 3.3, eqs. 6-12): an item vector is
split into M independent counterparts, the last one transformed into the common knowledge ``z``, and the
refined item is the sum of the other counterparts and ``z``; three regularisers keep the counterparts apart
(RD), make ``z`` carry their second moments (CT) and keep the refined batch's centroid near the original's (CA).

Equations to code:
    eq. 6  f^m = sigma(W^m i + b^m) / ||.||_2, m = 1..M        ``Disentangle.counterparts``
    eq. 8  z = W f^M + b                                       ``Disentangle.forward``
    eq. 10 i_bar = sum_{m<M} f^m + z                           ``Disentangle.forward``
    eq. 7  L^RD = -sum_m log softmax_m'(f^m' . f^m / tau)[m]   ``rd_loss``
    eq. 9  L^CT, between the F x F column products of f^m and of z over the batch   ``ct_loss``
    eq. 11 L^CA = || mean(i) - mean(i_bar) ||_2                ``ca_loss``
    eq. 12 L^D = beta_1 L^RD + beta_2 L^CT + beta_3 L^CA       ``disentangle_loss``

Deviations, each with its reason (docs/models/bomgraph.md):
    * sigma is not named by the paper; ``tanh`` by default (a sigmoid puts every counterpart in the positive
      orthant, where eq. 7 cannot make them independent), ``sigmoid`` / ``relu`` selectable.
    * eq. 9 as printed sums the differences unsquared, which is unbounded below (raise z's column products and
      it falls without limit); the paper cites the domain alignment loss (CORAL), whose difference is squared:
      ``ct_loss`` squares it. ``a, b`` are column indexes, so ``f_a^m . f_b^m`` is the dot product of columns a
      and b over the batch.
    * eqs. 7, 9 and 11 sum over the batch; here they are means over the batch (eq. 11's summand does not depend
      on the item, so its sum is B times the norm), so beta and lambda weigh the same at every batch size.

Shapes:
    Disentangle(i [B, D]) -> (i_bar [B, F], f [B, M, F], z [B, F])
    rd_loss(f [B, M, F], tau) -> []; ct_loss(f [B, M, F], z [B, F]) -> []; ca_loss(i [B, D], i_bar [B, D]) -> []
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Activation = Literal["tanh", "sigmoid", "relu"]
_ACT = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu}


class Disentangle(nn.Module):
    """Representation dissociation (eq. 6) into ``m`` counterparts, common knowledge transfer (eq. 8) and the
    refined item (eq. 10).

    Shapes:
        forward(i [B, in_dim]) -> (i_bar [B, dim], f [B, m, dim], z [B, dim])
    """

    def __init__(self, in_dim: int, dim: int, m: int = 3, activation: Activation = "tanh") -> None:
        super().__init__()
        if m < 2:
            raise ValueError(f"m = {m}: the disentangled representation needs at least 2 counterparts")
        if activation not in _ACT:
            raise ValueError(f"activation {activation!r}: one of {sorted(_ACT)}")
        self.m, self.dim = m, dim
        self.act = _ACT[activation]
        self.spaces = nn.Linear(in_dim, m * dim)  # W^m, b^m of the m spaces, side by side
        self.transfer = nn.Linear(dim, dim)  # W, b of eq. 8 (F x F)

    def counterparts(self, i: Tensor) -> Tensor:
        """Eq. 6: [B, in_dim] -> [B, m, dim], each counterpart L2-normalised."""
        h = self.act(self.spaces(i)).view(i.shape[0], self.m, self.dim)
        return F.normalize(h, dim=-1)

    def forward(self, i: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        f = self.counterparts(i)
        z = self.transfer(f[:, -1])
        return f[:, :-1].sum(1) + z, f, z


def rd_loss(f: Tensor, tau: float) -> Tensor:
    """Eq. 7, the batch mean of sum_m -log(exp(f^m.f^m / tau) / sum_m' exp(f^m'.f^m / tau))."""
    b, m, _ = f.shape
    gram = torch.einsum("bmd,bnd->bmn", f, f) / tau  # [B, M, M]: row m = f^m against every f^m'
    target = torch.arange(m, device=f.device).expand(b, m)
    return F.cross_entropy(gram.reshape(b * m, m), target.reshape(-1), reduction="sum") / b


def ct_loss(f: Tensor, z: Tensor) -> Tensor:
    """Eq. 9 (squared, see the module docstring): 1 / (M - 1) / F^2 sum_{m<M} sum_{a,b} (C^m_ab - C^z_ab)^2 with
    C_ab = (column a . column b) / B over the batch."""
    b, m, d = f.shape
    cz = z.T @ z / b  # [F, F]
    cf = torch.einsum("bma,bmc->mac", f[:, :-1], f[:, :-1]) / b  # [M - 1, F, F]
    return ((cf - cz).pow(2).sum() / (m - 1)) / (d * d)


def ca_loss(i: Tensor, i_bar: Tensor) -> Tensor:
    """Eq. 11 over the batch size: || mean_B(i) - mean_B(i_bar) ||_2."""
    if i.shape != i_bar.shape:
        raise ValueError(f"centroid alignment needs the original and refined items in one space: "
                         f"{tuple(i.shape)} vs {tuple(i_bar.shape)}")
    return torch.linalg.vector_norm(i.mean(0) - i_bar.mean(0))


def disentangle_loss(i: Tensor, i_bar: Tensor, f: Tensor, z: Tensor, tau: float,
                     betas: tuple[float, float, float] = (0.5, 0.7, 0.2),
                     steps: tuple[bool, bool, bool] = (True, True, True)) -> tuple[Tensor, dict[str, float]]:
    """Eq. 12: beta_1 L^RD + beta_2 L^CT + beta_3 L^CA (paper: 0.5, 0.7, 0.2); ``steps`` switches RD / CT / CA
    off one by one (table 4). Returns (loss [], the parts as floats)."""
    parts: dict[str, Tensor] = {}
    if steps[0]:
        parts["loss_rd"] = rd_loss(f, tau)
    if steps[1]:
        parts["loss_ct"] = ct_loss(f, z)
    if steps[2]:
        parts["loss_ca"] = ca_loss(i, i_bar)
    w = dict(zip(("loss_rd", "loss_ct", "loss_ca"), betas, strict=True))
    total = sum((w[k] * v for k, v in parts.items()), i_bar.new_zeros(()))
    return total, {k: float(v.detach()) for k, v in parts.items()}
