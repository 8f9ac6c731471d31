import torch

from synth import check_ranker, check_routing_matches_single_scenario_batches, random_batch, tiny_schema
from unisr.models.registry import build_model


def test_m2m_shapes_gradients_routing():
    schema = tiny_schema()
    model = build_model("m2m", {}, schema)
    check_ranker(model, schema, [])
    # the scenario embedding is the only scenario-specific tensor: rows of absent scenarios get no gradient
    model.train()
    model.zero_grad(set_to_none=True)
    b = random_batch(schema, 16, scenarios=torch.zeros(16, dtype=torch.long))
    model(b)["click"].sum().backward()
    g = model.scenario_emb.weight.grad
    assert g[0].abs().sum() > 0 and g[1:].abs().sum() == 0


def test_m2m_generates_weights_per_scenario():
    torch.manual_seed(0)
    model = build_model("m2m", {}, tiny_schema())
    w = [[t.detach() for t in layer.generate(model.scenario_repr(s))]
         for s in range(3) for layer in (model.meta_attention, model.meta_tower[0])]
    assert w[0][0].shape == (32, 32) and w[1][0].shape == (16, 16)
    assert not torch.allclose(w[0][0], w[2][0]) and not torch.allclose(w[1][0], w[3][0])  # s0 vs s1
    before = model.meta_tower[0].generate(model.scenario_repr(1))[0].detach()
    with torch.no_grad():
        model.scenario_emb.weight[1] += 0.5
    after = model.meta_tower[0].generate(model.scenario_repr(1))[0].detach()
    assert not torch.allclose(before, after)


def test_m2m_routing_matches_single_scenario_batches():
    schema = tiny_schema()
    check_routing_matches_single_scenario_batches(build_model("m2m", {}, schema), schema)


def test_m2m_batch_attention_diagnostic_depends_on_the_batch():
    """Scenario-Wise Rec's M2M layer (model.batch_attention): a sample's logit changes with its batch mates,
    which the default M2M's never does (test_m2m_routing_matches_single_scenario_batches)."""
    torch.manual_seed(0)
    schema = tiny_schema()
    model = build_model("m2m", {"batch_attention": True}, schema)
    assert model.transformer is None and isinstance(model.batch_transformer, torch.nn.Transformer)
    check_ranker(model, schema, [])
    model.eval()
    b = random_batch(schema, 40)
    with torch.no_grad():
        full = model(b)["click"]
        idx = torch.arange(20)
        half = model(b.select(idx))["click"]
    assert full.shape == (40,)
    assert not torch.allclose(half, full[idx], atol=1e-4)


def test_m2m_batch_attention_groups_attend_within_their_group():
    torch.manual_seed(0)
    schema = tiny_schema()
    model = build_model("m2m", {"batch_attention": True, "batch_attention_group": 8}, schema).eval()
    b = random_batch(schema, 20)  # groups 0-7, 8-15 and the remainder 16-19
    with torch.no_grad():
        full = model(b)["click"]
        first = model(b.select(torch.arange(8)))["click"]
        assert torch.allclose(first, full[:8], atol=1e-5)  # a group's logits depend on that group only
        mixed = model(b.select(torch.arange(4, 12)))["click"]
        assert not torch.allclose(mixed[:4], full[4:8], atol=1e-4)
