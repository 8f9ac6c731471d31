import torch

from synth import random_batch, tiny_schema
from unisr.models.registry import build_model


def test_adaptdhm_shapes_gradients_routing_by_cluster():
    torch.manual_seed(0)
    schema = tiny_schema()
    model = build_model("adaptdhm", {}, schema).train()
    b = random_batch(schema, 64)
    out = model(b)["click"]
    assert out.shape == (64,) and torch.isfinite(out).all()
    torch.nn.functional.binary_cross_entropy_with_logits(out, b.labels["click"]).backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    assert all(p.grad is not None for p in model.shared)
    # only the clusters that received samples get gradients
    model.eval()
    x = torch.cat([model.embedding(b), model.scenario_emb(b.scenario_id)], 1)
    used = set(model.route(x).tolist())
    for k in range(len(model.cluster)):
        g = model.cluster[k][0].grad
        assert (g is not None and float(g.abs().sum()) > 0) == (k in used)
    with torch.no_grad():
        single = model(random_batch(schema, 1, seed=3))["click"]
    assert single.shape == (1,)


def test_adaptdhm_router_updates_centres_and_routes_per_cluster():
    torch.manual_seed(0)
    schema = tiny_schema()
    model = build_model("adaptdhm", {}, schema)
    b = random_batch(schema, 48)
    with torch.no_grad():
        model.embedding.groups[0].weight.normal_()  # separable embeddings (they start near 0)
        model.scenario_emb.weight.normal_()
        before = model.centers.clone()
        model.eval()
        model(b)
        assert torch.equal(model.centers, before)  # evaluation routes without moving the centres
        model.train()
        model(b)
        assert not torch.equal(model.centers, before)
        assert torch.allclose(model.centers.norm(dim=1), torch.ones(3), atol=1e-5)  # unit centres
        model.eval()
        x = torch.cat([model.embedding(b), model.scenario_emb(b.scenario_id)], 1)
        k = model.route(x)
        assert torch.equal(k, torch.argmax(x @ model.centers.T, 1))
        full = model(b)["click"]
        # each sample's logit is its cluster's FCN (W_shared ⊙ W_k), and another cluster gives another logit
        for c in k.unique().tolist():
            idx = (k == c).nonzero().squeeze(1)
            assert torch.allclose(model._fcn(c, x[idx]).squeeze(1), full[idx], atol=1e-5)
            other = (c + 1) % 3
            assert not torch.allclose(model._fcn(other, x[idx]).squeeze(1), full[idx])


def test_adaptdhm_scenario_changes_output():
    torch.manual_seed(0)
    schema = tiny_schema()
    model = build_model("adaptdhm", {}, schema).eval()
    with torch.no_grad():
        model.scenario_emb.weight.normal_()
        b0 = random_batch(schema, 16, scenarios=torch.zeros(16, dtype=torch.long))
        b1 = random_batch(schema, 16, scenarios=torch.ones(16, dtype=torch.long))
        assert not torch.allclose(model(b0)["click"], model(b1)["click"])
