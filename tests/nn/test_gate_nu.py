import torch

from unisr.nn.gate_nu import GateNU


def test_gate_nu_range_and_shape():
    torch.manual_seed(0)
    g = GateNU(7, 5, gamma=2.0)
    out = g(torch.randn(64, 7) * 10)
    assert out.shape == (64, 5)
    assert (out > 0).all() and (out < 2.0).all()
    assert out.max() > 1.0  # it can amplify (gamma > 1), not only damp


def test_gate_nu_midpoint_is_one():
    g = GateNU(3, 4, gamma=2.0)
    with torch.no_grad():
        for p in g.parameters():
            p.zero_()
    assert torch.allclose(g(torch.randn(2, 3)), torch.ones(2, 4))
