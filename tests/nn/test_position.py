import pytest
import torch

from unisr.nn.position import PositionBias


def _trained_like(seed: int = 0) -> PositionBias:
    """A bias whose output layer is no longer zero (as after some training steps)."""
    torch.manual_seed(seed)
    m = PositionBias(num_scenarios=3, max_position=6)
    torch.nn.init.normal_(m.tower[-1].weight)
    return m


def test_starts_at_zero_and_is_anchored_at_the_top_slot():
    pos = torch.tensor([0, 1, 2, 5, -1, 3])
    scen = torch.tensor([0, 1, 2, 0, 1, 2])
    assert torch.equal(PositionBias(3)(pos, scen), torch.zeros(6))  # output layer starts at zero
    out = _trained_like()(pos, scen)
    assert out.shape == (6,)
    assert out[0] == 0 and out[4] == 0  # slot 0 is the reference; no position (-1) gets no bias
    assert (out[[1, 2, 3, 5]] != 0).all()


def test_depends_on_scenario_and_clips_positions():
    m = _trained_like()
    pos = torch.tensor([3, 3, 3])
    out = m(pos, torch.tensor([0, 1, 2]))
    assert len(set(out.tolist())) == 3  # one curve per scenario
    far = m(torch.tensor([6, 50, 1000]), torch.tensor([1, 1, 1]))
    assert far[0] == far[1] == far[2]  # positions above max_position share its bucket
    assert m(torch.tensor([5]), torch.tensor([1])) != far[0]


def test_every_parameter_learns_a_position_curve():
    """Fitting clicks that fall with the slot: every parameter gets a gradient and moves, and the learned
    bias decreases with the position."""
    torch.manual_seed(0)
    m = PositionBias(num_scenarios=2, max_position=4)
    before = {k: v.clone() for k, v in m.state_dict().items()}
    opt = torch.optim.Adam(m.parameters(), lr=0.05)
    pos = torch.arange(5).repeat(400)
    scen = torch.randint(0, 2, pos.shape)
    g = torch.Generator().manual_seed(1)
    y = (torch.rand(pos.shape, generator=g) < torch.sigmoid(-0.8 * torch.log2(1.0 + pos))).float()
    for step in range(150):
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(m(pos, scen), y)
        loss.backward()
        if step == 2:
            for name, p in m.named_parameters():
                assert p.grad is not None and p.grad.abs().sum() > 0, name
        opt.step()
    for k, v in m.state_dict().items():
        assert not torch.equal(v, before[k]), k
    curve = m(torch.arange(5), torch.zeros(5, dtype=torch.long)).detach()
    assert (curve[1:] < curve[:-1]).all()
    assert float(curve[4]) == pytest.approx(-0.8 * 2.32, abs=0.6)


def test_rejects_empty_sizes():
    with pytest.raises(ValueError):
        PositionBias(0)
