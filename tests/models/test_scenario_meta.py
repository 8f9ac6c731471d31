"""scenario_meta: the generated layer depends on the scenario only through its embedding, and is routed."""

import torch

from share_synth import build, check_share_model, share_batch, share_schema


def test_scenario_meta():
    check_share_model("scenario_meta", rank=4, meta_hidden=[16])


def test_generated_parameters_are_per_scenario_and_routed():
    net = build("scenario_meta", rank=4, meta_hidden=[16])
    u0, _, _ = net.scenario_params(0)
    u1, _, _ = net.scenario_params(1)
    assert u0.shape == (16, 4) and not torch.allclose(u0, u1)
    calls = []
    orig = net.scenario_params
    net.scenario_params = lambda s: calls.append(s) or orig(s)
    only0 = share_batch(share_schema(), 16, seed=1, scenarios=torch.zeros(16, dtype=torch.long))
    net(only0)["click"].sum().backward()
    assert calls == [0]  # parameters generated once, for the one scenario present
    g = net.input.scenario_emb.weight.grad
    assert float(g[0].abs().sum()) > 0 and float(g[1:].abs().sum()) == 0
