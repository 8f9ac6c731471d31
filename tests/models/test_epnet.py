import torch

from synth import check_ranker, random_batch, tiny_schema
from unisr.models.registry import build_model


def test_epnet_shapes_gradients_scenario():
    schema = tiny_schema()
    model = build_model("epnet", {}, schema)
    check_ranker(model, schema, [])
    model.train()
    model.zero_grad(set_to_none=True)
    model(random_batch(schema, 16, scenarios=torch.zeros(16, dtype=torch.long)))["click"].sum().backward()
    g = model.scenario_emb.weight.grad
    assert g[0].abs().sum() > 0 and g[1:].abs().sum() == 0  # only the batch's scenario row learns


def test_epnet_scenario_changes_output_and_gate_scales_embedding():
    torch.manual_seed(0)
    schema = tiny_schema()
    model = build_model("epnet", {}, schema).eval()
    with torch.no_grad():
        model.scenario_emb.weight.normal_()  # distinct scenarios (they start near 0, as in Scenario-Wise Rec)
        b = random_batch(schema, 32, scenarios=torch.zeros(32, dtype=torch.long))
        b1 = random_batch(schema, 32, scenarios=torch.ones(32, dtype=torch.long))
        assert not torch.allclose(model(b)["click"], model(b1)["click"])
        e = model.embedding(b)
        delta = model.gate(e, b.scenario_id)
        assert delta.shape == e.shape and (delta > 0).all() and (delta < 2.0).all()
        # the MLP sees exactly δ ⊙ E (eq. 4): the output is the MLP of the gated embedding
        assert torch.allclose(model(b)["click"], model.mlp(e * delta).squeeze(1))


def test_epnet_gate_stops_gradient_to_embedding():
    schema = tiny_schema()
    model = build_model("epnet", {}, schema)
    b = random_batch(schema, 8)
    e = model.embedding(b)
    model.gate(e, b.scenario_id).sum().backward()
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in model.embedding.parameters())
