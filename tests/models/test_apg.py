import pytest
import torch

from synth import check_ranker, check_routing_matches_single_scenario_batches, random_batch, tiny_schema
from unisr.models.apg import APGLinear
from unisr.models.registry import build_model


@pytest.mark.parametrize("params", [{}, {"condition": "scenario_user"}, {"overparam": 48, "generator": [16]}])
def test_apg_shapes_gradients_routing(params):
    schema = tiny_schema()
    model = build_model("apg", params, schema)
    check_ranker(model, schema, [])
    model.train()
    model.zero_grad(set_to_none=True)
    b = random_batch(schema, 16, scenarios=torch.zeros(16, dtype=torch.long))
    model(b)["click"].sum().backward()
    g = model.scenario_emb.weight.grad
    assert g[0].abs().sum() > 0 and g[1:].abs().sum() == 0


def test_apg_generates_weights_per_scenario():
    torch.manual_seed(0)
    model = build_model("apg", {}, tiny_schema())
    layer = model.layers[0]
    w = [layer.weight(layer.core(model.scenario_emb.weight[s])).detach() for s in range(3)]
    assert w[0].shape == (model.embedding.out_dim, 128)
    assert not torch.allclose(w[0], w[1]) and not torch.allclose(w[1], w[2])
    with torch.no_grad():
        model.scenario_emb.weight[1] += 0.5
    assert not torch.allclose(layer.weight(layer.core(model.scenario_emb.weight[1])).detach(), w[1])


@pytest.mark.parametrize("overparam", [0, 12])
def test_apg_low_rank_equals_explicit_weight(overparam):
    torch.manual_seed(0)
    lin = APGLinear(5, 3, 4, 2, generator=[6], overparam=overparam)
    with torch.no_grad():
        lin.bias.normal_()
    x, z = torch.randn(7, 5), torch.randn(7, 4)
    s = lin.core(z)  # per sample [7, 2, 2]
    explicit = torch.stack([x[i] @ (lin.U @ s[i] @ lin.V) for i in range(7)]) + lin.bias
    assert torch.allclose(lin(x, s), explicit, atol=1e-5)
    s1 = lin.core(z[0])  # one condition [2, 2]
    assert torch.allclose(lin(x, s1), x @ lin.weight(s1) + lin.bias, atol=1e-5)


def test_apg_routing_matches_single_scenario_batches():
    schema = tiny_schema()
    check_routing_matches_single_scenario_batches(build_model("apg", {}, schema), schema)
