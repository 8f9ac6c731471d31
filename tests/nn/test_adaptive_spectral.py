"""nn/adaptive_spectral.py: the Laplacians and the Chebyshev filter against hand computations (numpy) and PyG,
the alpha switch, and padded slots never mixing into valid ones."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_geometric.nn import ChebConv
from torch_geometric.utils import get_laplacian, to_dense_adj

from unisr.nn.adaptive_spectral import SGCLL, AdaptiveTreeEncoder, normalized_laplacian, tree_adjacency

# a path 0 - 1 - 2 and one padded slot 3
A = torch.tensor([[0., 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 0]])
MASK = torch.tensor([True, True, True, False])


def _np_lap(w: np.ndarray) -> np.ndarray:
    w = w * (1 - np.eye(len(w)))
    d = w.sum(1)
    di = np.where(d > 0, 1 / np.sqrt(np.where(d > 0, d, 1)), 0)
    return np.eye(len(w)) - di[:, None] * w * di[None, :]


def test_normalized_laplacian_by_hand_and_pyg() -> None:
    lap = normalized_laplacian(A[None], MASK[None])[0]
    r = 1 / np.sqrt(2)
    want = torch.tensor([[1, -r, 0, 0], [-r, 1, -r, 0], [0, -r, 1, 0], [0, 0, 0, 0]], dtype=torch.float32)
    assert torch.allclose(lap, want, atol=1e-6)
    ei, ew = get_laplacian(torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]]), normalization="sym", num_nodes=3)
    assert torch.allclose(lap[:3, :3], to_dense_adj(ei, edge_attr=ew, max_num_nodes=3)[0], atol=1e-6)
    iso = normalized_laplacian(torch.zeros(1, 2, 2), torch.ones(1, 2, dtype=torch.bool))[0]
    assert torch.equal(iso, torch.eye(2))  # isolated valid nodes: L_ii = 1, as get_laplacian


def test_residual_laplacian_and_chebyshev_filter_by_hand() -> None:
    torch.manual_seed(0)
    x = torch.randn(1, 4, 3)
    layer = SGCLL(3, 2, k=3, alpha=0.5, sigma=0.8, filter="agcn", metric_dim=2)
    with torch.no_grad():
        layer.metric.copy_(torch.randn(3, 2))
        layer.theta.copy_(torch.tensor([0.3, -0.7, 0.4]))
    xn, wd = x[0].numpy().astype(np.float64), layer.metric.detach().numpy().astype(np.float64)
    diff = xn[:, None, :] - xn[None, :, :]
    dist = np.sqrt(np.einsum("ijd,de,fe,ijf->ij", diff, wd, wd, diff))  # sqrt((xi-xj)^T W W^T (xi-xj))
    g = np.exp(-dist / (2 * 0.8 ** 2))  # no shift: the normalised Laplacian is scale invariant
    v = slice(0, 3)
    l_hat = np.zeros((4, 4))
    l_hat[v, v] = _np_lap(A.numpy()[v, v]) + 0.5 * _np_lap(g[v, v])
    got = layer.laplacian(x, A[None], MASK[None])[0].detach().numpy()
    assert np.allclose(got, l_hat, atol=1e-5)
    lt = l_hat / 1.5 - np.diag(MASK.numpy().astype(float))
    t0, t1 = xn, lt @ xn
    t2 = 2 * lt @ t1 - t0
    h = 0.3 * t0 - 0.7 * t1 + 0.4 * t2
    want = h @ layer.lin.weight.detach().numpy().T + layer.lin.bias.detach().numpy()
    want[3] = 0  # the padded slot's output is masked
    out = layer(x, A[None], MASK[None])[0].detach().numpy()
    assert np.allclose(out, want, atol=1e-5)


def test_alpha_zero_is_pyg_chebconv_and_alpha_changes_the_output() -> None:
    torch.manual_seed(1)
    b, n = 3, 4
    x = torch.randn(b, n, 5)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0], [1, 1, 0, 0]], dtype=torch.bool)
    adj = tree_adjacency(mask, torch.tensor([-1, 0, 0, 1]))
    plain = SGCLL(5, 3, k=3, alpha=0.0, filter="cheb")
    cheb = ChebConv(5, 3, K=3)
    with torch.no_grad():
        for lin, cl in zip(plain.lins, cheb.lins, strict=True):
            cl.weight.copy_(lin.weight)
        cheb.bias.copy_(torch.randn(3))
        plain.bias.copy_(cheb.bias)
    # the batch as one block-diagonal graph (padded slots isolated)
    bi, ri, ci = torch.nonzero(adj, as_tuple=True)
    ei = torch.stack([bi * n + ri, bi * n + ci])
    ref = cheb(x.reshape(b * n, 5), ei).view(b, n, 3)
    out = plain(x, adj, mask)
    assert torch.allclose(out[mask], ref[mask], atol=1e-5)
    # alpha > 0 adds the learnt residual Laplacian: another output, and the metric gets a gradient
    adapt = SGCLL(5, 3, k=3, alpha=1.0, filter="cheb")
    adapt.load_state_dict(plain.state_dict())
    y = adapt(x, adj, mask)
    assert not torch.allclose(y[mask], out[mask], atol=1e-4)
    y.sum().backward()
    assert adapt.metric.grad is not None and adapt.metric.grad.abs().sum() > 0
    plain(x, adj, mask).sum().backward()
    assert plain.metric.grad is None  # alpha = 0: no residual graph is computed


def test_padded_slots_never_mix_in() -> None:
    torch.manual_seed(2)
    parent = torch.tensor([-1, 0, 0, 1, 1, 2, 2])
    enc = AdaptiveTreeEncoder(4, 6, [2, 2], layers=2, k=3, alpha=1.0)
    mask = torch.tensor([[1, 1, 1, 1, 0, 1, 0]], dtype=torch.bool)
    assert torch.equal(tree_adjacency(mask, parent)[0, 4], torch.zeros(7))
    x = torch.randn(1, 7, 4)
    y = enc(x, mask)
    x2 = x.clone()
    x2[0, [4, 6]] = 100.0  # padded slots' features
    assert torch.allclose(enc(x2, mask), y, atol=1e-6)
    x3 = x.clone()
    x3[0, 3] += 1.0  # a valid hop-2 node reaches the seed
    assert not torch.allclose(enc(x3, mask), y, atol=1e-6)
    assert torch.isfinite(y).all()


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="k >= 1"):
        SGCLL(3, 3, k=0)
    with pytest.raises(ValueError, match="filter"):
        SGCLL(3, 3, filter="fourier")  # type: ignore[arg-type]
