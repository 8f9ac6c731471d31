import torch

from unisr.nn.routing import ScenarioGroups
from unisr.nn.towers import ScenarioTowers


def test_each_sample_goes_through_its_scenarios_tower_only():
    torch.manual_seed(0)
    towers = ScenarioTowers(3, 5, [4], 2)
    x = torch.randn(9, 5)
    sid = torch.tensor([0, 1, 2, 0, 1, 2, 0, 0, 1])
    out = towers(x, ScenarioGroups(sid))
    assert out.shape == (9, 2)
    for i in range(9):
        assert torch.allclose(out[i], towers.towers[int(sid[i])](x[i:i + 1])[0], atol=1e-6)
    towers.zero_grad()
    only0 = torch.zeros(4, dtype=torch.long)
    towers(x[:4], ScenarioGroups(only0)).sum().backward()
    for s, t in enumerate(towers.towers):
        grads = [p.grad for p in t.parameters()]
        if s == 0:
            assert all(g is not None and float(g.abs().sum()) > 0 for g in grads)
        else:
            assert all(g is None for g in grads), f"tower {s} got a gradient from scenario 0 samples"
