import pytest
import torch

from synth import (
    check_learns_scenario_rule,
    check_ranker,
    check_routing_matches_single_scenario_batches,
    random_batch,
    tiny_schema,
)
from unisr.models.m3oe import balance
from unisr.models.registry import build_model


def test_m3oe_shapes_gradients_routing():
    schema = tiny_schema()
    model = build_model("m3oe", {}, schema)
    assert model.task_experts is None and set(model.fusion_weights()) == {"exp_d", "bal_d"}
    check_ranker(model, schema, ["gates.{s}.0.weight", "towers.{s}.0.net.0.weight"])
    model.zero_grad(set_to_none=True)
    model(random_batch(schema, 16, scenarios=torch.zeros(16, dtype=torch.long)))["click"].sum().backward()
    g = model.star.weight_s.grad
    assert g[0].abs().sum() > 0 and g[1:].abs().sum() == 0  # only scenario 0's STAR slot learns
    # every domain expert learns from scenario 0's samples (its mix weighs the other domains' experts, 1 - bal_d)
    assert all(e.net[0].weight.grad.abs().sum() > 0 for e in model.domain_experts.experts)


def test_m3oe_routing_matches_single_scenario_batches():
    schema = tiny_schema()
    check_routing_matches_single_scenario_batches(build_model("m3oe", {}, schema), schema)


def test_m3oe_two_level_fusion_and_stop_gradient_gate():
    torch.manual_seed(0)
    schema = tiny_schema()
    model = build_model("m3oe", {"bal_d": 0.3, "exp_d": -0.5}, schema).eval()
    w = model.fusion_weights()
    assert torch.isclose(w["bal_d"], torch.sigmoid(torch.tensor(0.3)))
    b = random_batch(schema, 16, scenarios=torch.full((16,), 2, dtype=torch.long))
    from unisr.nn.routing import ScenarioGroups
    with torch.no_grad():
        h = model.represent(model.embedding(b), ScenarioGroups(b.scenario_id))
        shared, dom = model.shared_experts(h), model.domain_experts(h)
        others = (dom[:, 0] + dom[:, 1]) / 2
        dmix = w["bal_d"] * dom[:, 2] + (1 - w["bal_d"]) * others  # first level: the domain experts
        gate = torch.softmax(model.gates[2][0](h), 1)
        f = torch.einsum("bn,bnd->bd", gate, shared) + w["exp_d"] * dmix  # second level
        assert torch.allclose(model(b)["click"], model.towers[2][0](f).squeeze(1), atol=1e-5)
    # the gate reads a stop-gradient input: its loss reaches the gate's weights, not the representation
    model.train()
    model.zero_grad(set_to_none=True)
    h = model.represent(model.embedding(b), ScenarioGroups(b.scenario_id))
    out = model._scenario(2, (h, model.shared_experts(h).detach(), model.domain_experts(h).detach()))
    out.sum().backward()
    assert model.gates[2][0].weight.grad.abs().sum() > 0
    assert model.skip.net[0].weight.grad is None or model.skip.net[0].weight.grad.abs().sum() == 0


def test_balance_one_and_several_experts():
    e = torch.arange(12.0).view(1, 3, 4)
    w = torch.tensor(0.5)
    assert torch.allclose(balance(e, 1, w), 0.5 * e[:, 1] + 0.25 * (e[:, 0] + e[:, 2]))
    assert torch.allclose(balance(e[:, :1], 0, w), 0.5 * e[:, 0])


def test_m3oe_multi_task_heads_and_task_experts():
    schema = tiny_schema()
    model = build_model("m3oe", {"tasks": ["click", "ctcvr"]}, schema)
    assert set(model.fusion_weights()) == {"exp_d", "bal_d", "exp_t", "bal_t"}
    out = model(random_batch(schema, 20))
    assert set(out) == {"click", "ctcvr"} and out["ctcvr"].shape == (20,)
    assert not torch.allclose(out["click"], out["ctcvr"])
    loss = sum(torch.nn.functional.binary_cross_entropy_with_logits(v, torch.ones_like(v)) for v in out.values())
    loss.backward()
    assert model.w_bal_t.grad is not None and model.task_experts.experts[1].net[0].weight.grad.abs().sum() > 0


@pytest.mark.parametrize("fcn", [[64, 32]])
def test_m3oe_too_few_layers_is_a_clear_error(fcn):
    with pytest.raises(ValueError, match="at least 3"):  # the config says so (CLI: exit 2 naming model.fcn)
        build_model("m3oe", {"fcn": fcn}, tiny_schema())


def test_m3oe_learns_a_scenario_dependent_rule():
    schema = tiny_schema()
    check_learns_scenario_rule(build_model("m3oe", {}, schema), schema)
