import torch

from unisr.nn.experts import Experts, mix


def test_experts_stack_every_expert_on_the_same_input():
    torch.manual_seed(0)
    ex = Experts(3, 5, [7, 4])
    x = torch.randn(6, 5)
    out = ex(x)
    assert out.shape == (6, 3, 4) and ex.out_dim == 4
    for k, e in enumerate(ex.experts):
        assert torch.allclose(out[:, k], e(x))


def test_mix_is_the_softmax_weighted_sum_of_the_experts():
    g = torch.randn(4, 3, requires_grad=True)
    e = torch.randn(4, 3, 2, requires_grad=True)
    out = mix(g, e)
    w = torch.softmax(g, -1)
    assert out.shape == (4, 2)
    assert torch.allclose(out, sum(w[:, k:k + 1] * e[:, k] for k in range(3)), atol=1e-6)
    # a gate that is far more confident in one expert returns (nearly) that expert
    sharp = torch.tensor([[0.0, 50.0, 0.0]]).expand(4, 3)
    assert torch.allclose(mix(sharp, e), e[:, 1], atol=1e-5)
    out.sum().backward()
    assert g.grad is not None and torch.isfinite(g.grad).all() and float(e.grad.abs().sum()) > 0
