import torch

from synth import check_ranker, check_routing_matches_single_scenario_batches, random_batch, tiny_schema
from unisr.models.registry import build_model


def test_sarnet_shapes_gradients_routing():
    schema = tiny_schema()
    model = build_model("sarnet", {}, schema)
    check_ranker(model, schema, ["specific.{s}.0.net.1.weight", "specific.{s}.1.net.0.weight"])
    model.zero_grad(set_to_none=True)
    model.train()
    model(random_batch(schema, 16, scenarios=torch.zeros(16, dtype=torch.long)))["click"].sum().backward()
    g = model.scenario_w.grad
    assert g[0].abs().sum() > 0 and g[1:].abs().sum() == 0  # only scenario 0's transfer learns


def test_sarnet_scenario_changes_output_and_experts_mix():
    torch.manual_seed(0)
    schema = tiny_schema()
    model = build_model("sarnet", {}, schema).eval()
    b0 = random_batch(schema, 16, scenarios=torch.zeros(16, dtype=torch.long))
    b1 = random_batch(schema, 16, scenarios=torch.ones(16, dtype=torch.long))
    with torch.no_grad():
        assert not torch.allclose(model(b0)["click"], model(b1)["click"])
        # the gate is a distribution over 8 shared + 2 specific experts, of the transferred input
        e = model.embedding(b0)
        x = e * model.scenario_w[0] + model.scenario_b[0]
        gate = torch.softmax(model.gate(x), 1)
        assert gate.shape == (16, 10) and torch.allclose(gate.sum(1), torch.ones(16))
        # the mixed expert output is what the output MLP reads
        from unisr.nn.routing import ScenarioGroups
        h = torch.einsum("bn,bnk->bk", gate, model.experts(x, ScenarioGroups(b0.scenario_id)))
        assert torch.allclose(model.output(h).squeeze(1), model(b0)["click"], atol=1e-6)


def test_sarnet_routing_matches_single_scenario_batches():
    schema = tiny_schema()
    check_routing_matches_single_scenario_batches(build_model("sarnet", {}, schema), schema)


def test_sarnet_whole_batch_diagnostic_differs_only_in_batch_statistics():
    """model.whole_batch (Scenario-Wise Rec's computation): the same function in evaluation with the same
    running statistics; in training its specific experts normalise with whole-batch statistics."""
    torch.manual_seed(0)
    schema = tiny_schema()
    routed = build_model("sarnet", {}, schema)
    whole = build_model("sarnet", {"whole_batch": True}, schema)
    whole.load_state_dict(routed.state_dict())
    b = random_batch(schema, 48)
    routed.eval()
    whole.eval()
    with torch.no_grad():
        assert torch.allclose(routed(b)["click"], whole(b)["click"], atol=1e-5)
    routed.train()
    whole.train()
    with torch.no_grad():
        assert not torch.allclose(routed(b)["click"], whole(b)["click"], atol=1e-4)
