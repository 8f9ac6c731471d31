import pytest
import torch

from synth import check_ranker, check_routing_matches_single_scenario_batches, random_batch, tiny_schema
from unisr.models.registry import build_model


def test_ppnet_shapes_gradients_routing():
    schema = tiny_schema()
    model = build_model("ppnet", {}, schema)
    # samples of scenario 0 train tower 0's layers and gates only
    check_ranker(model, schema, ["towers.{s}.layers.0.net.0.weight", "towers.{s}.gates.2.net.0.weight",
                                 "towers.{s}.out.weight"])


def test_ppnet_scenario_routing_matches_single_scenario_batches():
    torch.manual_seed(0)
    schema = tiny_schema()
    model = build_model("ppnet", {}, schema)
    check_routing_matches_single_scenario_batches(model, schema, 48)
    with torch.no_grad():
        # the same sample through another scenario's tower: another output
        b0 = random_batch(schema, 16, scenarios=torch.zeros(16, dtype=torch.long))
        b1 = random_batch(schema, 16, scenarios=torch.ones(16, dtype=torch.long))
        assert not torch.allclose(model(b0)["click"], model(b1)["click"])


def test_ppnet_gates_every_tower_layer():
    """PEPNet eq. 6: each hidden layer's output is its gate times the layer (one Gate NU per layer)."""
    torch.manual_seed(0)
    schema = tiny_schema()
    model = build_model("ppnet", {"hidden": [8, 6, 4]}, schema).eval()
    tower = model.towers[0]
    assert [g.net[-2].out_features for g in tower.gates] == [8, 6, 4]
    b = random_batch(schema, 10, scenarios=torch.zeros(10, dtype=torch.long))
    with torch.no_grad():
        x, g = model.inputs(b)
        deltas = tower.gate_values(g)
        h = x
        for layer, d in zip(tower.layers, deltas, strict=True):
            assert (d > 0).all() and (d < 2).all()
            h = layer(h) * d
        assert torch.allclose(tower.out(h).squeeze(1), model(b)["click"], atol=1e-6)
        # the last layer's gate at 0 silences the tower: every logit is the output layer's bias
        tower.gates[2].net[-2].bias.fill_(-1e4)
        tower.gates[2].net[-2].weight.zero_()
        assert torch.allclose(model(b)["click"], tower.out.bias.expand(10), atol=1e-6)


@pytest.mark.parametrize("tower_input", ["general", "gate"])
def test_ppnet_general_embedding_gradient(tower_input):
    """Scenario-Wise Rec's tower reads the gate input, so the general fields' embeddings get no gradient."""
    schema = tiny_schema()
    model = build_model("ppnet", {"tower_input": tower_input}, schema)
    model(random_batch(schema, 32))["click"].sum().backward()
    g = model.scenario_emb.weight.grad
    assert (g is not None and g.abs().sum() > 0) == (tower_input == "general")
