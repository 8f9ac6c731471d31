import pytest
import torch

from synth import check_ranker, random_batch, tiny_schema
from unisr.models.registry import build_model


@pytest.mark.parametrize("form", ["fusion", "scaling", "binarization"])
def test_adasparse_shapes_gradients(form):
    schema = tiny_schema()
    model = build_model("adasparse", {"form": form}, schema)
    check_ranker(model, schema, [])
    model.train()
    model.zero_grad(set_to_none=True)
    model(random_batch(schema, 16, scenarios=torch.zeros(16, dtype=torch.long)))["click"].sum().backward()
    g = model.scenario_emb.weight.grad
    assert g[0].abs().sum() > 0 and g[1:].abs().sum() == 0


@pytest.mark.parametrize("form", ["fusion", "scaling", "binarization"])
def test_adasparse_factors_in_range(form):
    """AdaSparse eq. 4-6: every factor is 0 (pruned) or in [epsilon, beta] (binarization: exactly 0 or 1)."""
    torch.manual_seed(0)
    schema = tiny_schema()
    model = build_model("adasparse", {"form": form, "epsilon": 0.3, "beta": 2.0}, schema).eval()
    with torch.no_grad():
        for p in model.pruners:
            p.linear.weight.normal_(std=3.0)  # spread the factors so that some fall below epsilon
        model.scenario_emb.weight.normal_()
        factors = model.factors(random_batch(schema, 64))
    assert [f.shape[1] for f in factors] == [model.embedding.out_dim, 32, 32]
    pi = torch.cat([f.flatten() for f in factors])
    assert (pi.abs() < 1e-6).any()  # pruned neurons
    kept = pi[pi.abs() >= 1e-6]
    if form == "binarization":
        assert torch.allclose(kept, torch.ones_like(kept))
    else:
        assert (kept >= 0.3).all() and (kept <= 2.0).all()


def test_adasparse_scenario_changes_output_and_alpha_grows():
    torch.manual_seed(0)
    schema = tiny_schema()
    model = build_model("adasparse", {}, schema)
    with torch.no_grad():
        model.scenario_emb.weight.normal_()
    model.eval()
    b0 = random_batch(schema, 16, scenarios=torch.zeros(16, dtype=torch.long))
    b1 = random_batch(schema, 16, scenarios=torch.ones(16, dtype=torch.long))
    with torch.no_grad():
        assert not torch.allclose(model(b0)["click"], model(b1)["click"])
        a = float(model.alpha)
        model(b0)
        assert float(model.alpha) == a  # evaluation leaves alpha alone
        model.train()
        model(b0)
        model(b0)
    assert float(model.alpha) == pytest.approx(a + 2e-4)
