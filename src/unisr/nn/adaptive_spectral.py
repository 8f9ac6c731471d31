"""The SGC-LL layer of AdaptiveGCN (Li, Wang, Zhu, Huang, "Adaptive Graph Convolutional Neural Networks",
AAAI'18) on batches of small graphs, densely: each graph is one [n, n] block of a [B, n, n] batch, padded slots
masked.

Per graph, with node features X [n, d] and its intrinsic adjacency A (here: the sampled tree's edges):
    d(x_i, x_j) = sqrt((x_i - x_j)^T W_d W_d^T (x_i - x_j))        the learned Mahalanobis distance
    G_ij = exp(-d(x_i, x_j) / (2 sigma^2)) (i != j)                   the Gaussian-kernel residual graph
    L = I - D_A^-1/2 A D_A^-1/2,  L_res = I - D_G^-1/2 G D_G^-1/2     normalised Laplacians
    L_hat = L + alpha L_res
    Y = (sum_{k<K} theta_k T_k(L~) X) W + b      ("agcn", the paper's filter: K scalars, one feature transform)
    Y = sum_{k<K} T_k(L~) X W_k + b               ("cheb", PyG ChebConv's parameterisation)
with T_k the Chebyshev polynomials of L~ = 2 L_hat / lambda_max - I and lambda_max = 2 (1 + alpha), the bound of
L_hat's spectrum (alpha = 0: lambda_max = 2, ChebConv's default, and the layer is a plain spectral filter on L).

Dense, not PyG ``ChebConv`` on a block-diagonal sparse batch: G connects every pair of a graph's nodes, so a
sparse batch would hold n^2 edges per graph and scatter over them; batched matrix products on [B, n, n] do the
same work without the index arithmetic (``tests/nn/test_adaptive_spectral.py`` checks that the "cheb" layer with
alpha = 0 equals ``ChebConv`` on the block-diagonal batch).

Numerics: the normalised Laplacian is invariant to scaling a graph's weights, so G is computed as
exp(-(d - min d) / (2 sigma^2)) with the graph's smallest off-diagonal distance subtracted (no underflow of all
weights); a node whose degree is 0 is isolated (L_ii = 1, as PyG's ``get_laplacian``); padded slots have zero
rows and columns in L, L_res and L~, so they never mix into the valid nodes.

Shapes:
    normalized_laplacian(w [B, n, n], mask [B, n]) -> [B, n, n]
    SGCLL.residual_adjacency(x [B, n, d], mask) -> G [B, n, n]; SGCLL.laplacian(x, adj, mask) -> L_hat [B, n, n]
    SGCLL(x [B, n, d_in], adj [B, n, n], mask [B, n]) -> [B, n, d_out]
    AdaptiveTreeEncoder(x [B, n, d_in], mask [B, n]) -> [B, dim] (the seed's row, slot 0)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unisr.graph.samplers.union import tree_parent

Filter = Literal["agcn", "cheb"]
EPS = 1e-12


def _pair_mask(mask: Tensor) -> Tensor:
    m = mask.to(torch.float32)
    n = mask.shape[-1]
    return m.unsqueeze(-1) * m.unsqueeze(-2) * (1.0 - torch.eye(n, device=mask.device))


def normalized_laplacian(w: Tensor, mask: Tensor) -> Tensor:
    """I - D^-1/2 W D^-1/2 over the valid slots (the diagonal of ``w`` is ignored); 0 rows / columns for padded
    slots; a valid slot of degree 0 has L_ii = 1."""
    w = w * _pair_mask(mask)
    deg = w.sum(-1)
    dinv = deg.clamp_min(EPS).rsqrt() * (deg > EPS)
    eye = torch.diag_embed(mask.to(w.dtype))
    return eye - dinv.unsqueeze(-1) * w * dinv.unsqueeze(-2)


def tree_adjacency(mask: Tensor, parent: Tensor) -> Tensor:
    """[B, n, n] symmetric 0/1 adjacency of the valid parent-child edges of B flattened trees."""
    n = len(parent)
    p = torch.zeros(n, n)
    c = torch.arange(1, n)
    p[c, parent[1:]] = 1.0
    return (p + p.T).unsqueeze(0) * _pair_mask(mask)


class SGCLL(nn.Module):
    """One SGC-LL layer (spectral graph convolution with graph Laplacian learning).

    ``k``: Chebyshev terms T_0 .. T_{k-1}; ``alpha``: weight of the residual Laplacian (0 = off); ``sigma``: the
    Gaussian kernel's width; ``metric_dim``: columns of W_d (default d_in).

    Shapes:
        forward(x [B, n, d_in], adj [B, n, n], mask [B, n]) -> [B, n, d_out]
    """

    def __init__(self, d_in: int, d_out: int, k: int = 3, alpha: float = 1.0, sigma: float = 1.0,
                 filter: Filter = "agcn", metric_dim: int | None = None) -> None:
        super().__init__()
        if k < 1:
            raise ValueError(f"SGCLL: need k >= 1 Chebyshev terms, got {k}")
        if alpha < 0 or sigma <= 0:
            raise ValueError(f"SGCLL: alpha must be >= 0 and sigma > 0, got {alpha}, {sigma}")
        self.k, self.alpha, self.sigma, self.filter = k, float(alpha), float(sigma), filter
        self.metric = nn.Parameter(torch.eye(d_in, metric_dim or d_in))  # W_d: M = W_d W_d^T, Euclidean at init
        if filter == "agcn":
            self.theta = nn.Parameter(torch.full((k,), 1.0 / k))
            self.lin = nn.Linear(d_in, d_out)
        elif filter == "cheb":
            self.lins = nn.ModuleList(nn.Linear(d_in, d_out, bias=False) for _ in range(k))
            self.bias = nn.Parameter(torch.zeros(d_out))
        else:
            raise ValueError(f"SGCLL: filter must be 'agcn' or 'cheb', got {filter!r}")

    def residual_adjacency(self, x: Tensor, mask: Tensor) -> Tensor:
        z = x @ self.metric
        sq = (z * z).sum(-1)
        d2 = (sq.unsqueeze(-1) + sq.unsqueeze(-2) - 2.0 * z @ z.transpose(-1, -2)).clamp_min(0.0)
        d = d2.clamp_min(EPS).sqrt()
        pm = _pair_mask(mask)
        big = torch.finfo(d.dtype).max
        dmin = torch.where(pm > 0, d, torch.full_like(d, big)).amin((-1, -2), keepdim=True).detach()
        dmin = torch.where(dmin < big, dmin, torch.zeros_like(dmin))  # a graph of one valid node
        return torch.exp(-(d - dmin) / (2.0 * self.sigma ** 2)) * pm

    def laplacian(self, x: Tensor, adj: Tensor, mask: Tensor) -> Tensor:
        lap = normalized_laplacian(adj, mask)
        if self.alpha > 0:
            lap = lap + self.alpha * normalized_laplacian(self.residual_adjacency(x, mask), mask)
        return lap

    def forward(self, x: Tensor, adj: Tensor, mask: Tensor) -> Tensor:
        lt = self.laplacian(x, adj, mask) / (1.0 + self.alpha) - torch.diag_embed(mask.to(x.dtype))
        terms = [x]
        if self.k > 1:
            terms.append(lt @ x)
        for _ in range(2, self.k):
            terms.append(2.0 * (lt @ terms[-1]) - terms[-2])
        if self.filter == "agcn":
            y = self.lin(sum(t * th for t, th in zip(terms, self.theta, strict=True)))
        else:
            y = sum(lin(t) for lin, t in zip(self.lins, terms, strict=True)) + self.bias
        return y * mask.unsqueeze(-1).to(y.dtype)


class AdaptiveTreeEncoder(nn.Module):
    """``layers`` SGC-LL layers (ReLU between) on a sampled ``fanouts`` tree; the seed's output row.

    Shapes:
        forward(x [B, n, d_in], mask [B, n]) -> [B, dim]
    """

    def __init__(self, d_in: int, dim: int, fanouts: Sequence[int], layers: int = 2, k: int = 3,
                 alpha: float = 1.0, sigma: float = 1.0, filter: Filter = "agcn") -> None:
        super().__init__()
        if layers < 1:
            raise ValueError(f"AdaptiveTreeEncoder: need layers >= 1, got {layers}")
        self.layers = nn.ModuleList(SGCLL(d_in if i == 0 else dim, dim, k, alpha, sigma, filter)
                                    for i in range(layers))
        self.register_buffer("parent", tree_parent(fanouts), persistent=False)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        if x.shape[1] != len(self.parent):
            raise ValueError(f"AdaptiveTreeEncoder: trees of {len(self.parent)} slots expected, got {x.shape[1]}")
        adj = tree_adjacency(mask, self.parent)
        h = x
        for i, layer in enumerate(self.layers):
            h = layer(h, adj, mask)
            if i < len(self.layers) - 1:
                h = F.relu(h)
        return h[:, 0]
