"""cune: MF term plus the social regulariser over present neighbours only."""

import torch

from share_synth import build, check_share_model, share_batch, share_schema


def test_cune():
    check_share_model("cune")


def test_social_regulariser_pulls_friends_together_and_ignores_masked_slots():
    net = build("cune", social_reg=1.0)
    b = share_batch(share_schema(), 32)
    reg = net.extra_losses(b, {})["social_reg"]
    assert torch.isfinite(reg) and float(reg.detach()) > 0
    with torch.no_grad():  # every user with the same factors: nothing left to pull
        net.factors.weight.copy_(net.factors.weight[1].expand_as(net.factors.weight))
    assert float(net.extra_losses(b, {})["social_reg"]) == 0.0
    assert build("cune", social_reg=0.0).extra_losses(b, {}) == {}
