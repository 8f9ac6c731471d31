import torch

from synth import check_ranker, random_batch, tiny_schema
from unisr.models.registry import build_model
from unisr.nn.star import PartitionedNorm, StarLinear


def test_star_routes_scenario_weights():
    schema = tiny_schema()
    model = build_model("star", {}, schema)
    check_ranker(model, schema, [])
    # scenario weights live in one tensor per layer: rows of other scenarios get no gradient
    model.zero_grad(set_to_none=True)
    b = random_batch(schema, 16, scenarios=torch.zeros(16, dtype=torch.long))
    model(b)["click"].sum().backward()
    for p in (model.layers[0].weight_s, model.layers[1].bias_s, model.pn.gamma_s):
        assert p.grad[0].abs().sum() > 0 and p.grad[1:].abs().sum() == 0


def test_star_linear_is_shared_times_specific():
    lin = StarLinear(2, 3, 2)
    with torch.no_grad():
        lin.weight_s[1].fill_(2.0)
        lin.bias_s[1].fill_(1.0)
    x = torch.randn(4, 3)
    assert torch.allclose(lin(x, 0), x @ lin.weight + lin.bias)
    assert torch.allclose(lin(x, 1), x @ (2 * lin.weight) + lin.bias + 1)


def test_partitioned_norm_keeps_per_scenario_statistics():
    pn = PartitionedNorm(2, 3, momentum=1.0)
    x0 = torch.randn(100, 3) * 2 + 5
    pn.train()
    out = pn(x0, 0)
    assert torch.allclose(out.mean(0), torch.zeros(3), atol=1e-5)
    assert torch.allclose(pn.running_mean[0], x0.mean(0), atol=1e-5)
    assert torch.allclose(pn.running_mean[1], torch.zeros(3))  # scenario 1 untouched
    pn.eval()
    assert torch.allclose(pn(x0, 0), out, rtol=2e-2, atol=2e-2)  # running var is the unbiased estimate
    with torch.no_grad():
        pn.gamma_s[1].fill_(3.0)
    assert torch.allclose(pn(x0, 1), 3 * x0, atol=1e-4)  # scenario 1: stats mean 0 var 1
