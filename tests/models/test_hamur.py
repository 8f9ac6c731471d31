import pytest
import torch

from synth import (
    check_learns_scenario_rule,
    check_ranker,
    check_routing_matches_single_scenario_batches,
    random_batch,
    tiny_schema,
)
from unisr.models.registry import build_model


def test_hamur_shapes_gradients_routing():
    schema = tiny_schema()
    model = build_model("hamur", {}, schema)
    assert model.hyper(model.embedding(random_batch(schema, 8))).shape == (8, 35, 35)
    check_ranker(model, schema, ["backbones.{s}.net.0.weight", "heads.{s}.weight"])
    # the shared parts learn from one scenario's samples: the hyper-network and the adapter's U, V
    model.zero_grad(set_to_none=True)
    model.train()
    model(random_batch(schema, 16, scenarios=torch.zeros(16, dtype=torch.long)))["click"].sum().backward()
    assert model.hyper_net.net[0].weight.grad.abs().sum() > 0 and model.adapter.u_up.grad.abs().sum() > 0


def test_hamur_routing_matches_single_scenario_batches():
    schema = tiny_schema()
    model = build_model("hamur", {}, schema)
    model.train()
    with torch.no_grad():  # moving averages that differ by scenario (they start at 0 / 1 for every scenario)
        for seed in range(3):
            model(random_batch(schema, 64, seed=seed))
    check_routing_matches_single_scenario_batches(model, schema)


def test_hamur_adapter_is_the_low_rank_hyper_weight_and_norm_uses_scenario_statistics():
    torch.manual_seed(0)
    schema = tiny_schema()
    model = build_model("hamur", {}, schema).eval()
    ad = model.adapter
    with torch.no_grad():
        for p in (ad.u_down, ad.v_down, ad.u_up, ad.v_up):
            p.normal_()  # Scenario-Wise Rec starts them at ones: make the check see the order of the product
        b = random_batch(schema, 16, scenarios=torch.zeros(16, dtype=torch.long))
        e = model.embedding(b)
        z = model.hyper(e)
        h = model.backbones[0](e)
        w1 = torch.einsum("mi,bij,jn->bmn", ad.u_down, z, ad.v_down)  # Scenario-Wise Rec's einsum
        a = torch.sigmoid(torch.einsum("bf,bfj->bj", h, w1) + ad.b_down)
        w2 = torch.einsum("mi,bij,jn->bmn", ad.u_up, z, ad.v_up)
        o = torch.einsum("bf,bfj->bj", a, w2) + ad.b_up
        rm, rv = ad.norm.running_mean[0], ad.norm.running_var[0]
        dn = (o - rm) / torch.sqrt(rv + ad.norm.eps) * ad.norm.gamma + ad.norm.beta
        assert torch.allclose(ad(h, z, 0), dn, rtol=1e-4, atol=1e-4)
        assert torch.allclose(model(b)["click"], model.heads[0](h + dn).squeeze(1), rtol=1e-4, atol=1e-4)
    # training: the domain norm of scenario 0's samples uses their statistics and updates only row 0
    model.train()
    before = ad.norm.running_mean.clone()
    model(random_batch(schema, 32, scenarios=torch.zeros(32, dtype=torch.long)))
    assert not torch.equal(ad.norm.running_mean[0], before[0]) and torch.equal(ad.norm.running_mean[1:], before[1:])


def test_hamur_learns_a_scenario_dependent_rule():
    schema = tiny_schema()
    check_learns_scenario_rule(build_model("hamur", {}, schema), schema)


@pytest.mark.parametrize("train", [False, True])
def test_hamur_whole_batch_diagnostic_differs_only_in_batch_statistics(train):
    torch.manual_seed(0)
    schema = tiny_schema()
    routed = build_model("hamur", {}, schema)
    whole = build_model("hamur", {"whole_batch": True}, schema)
    whole.load_state_dict(routed.state_dict())
    b = random_batch(schema, 48)
    routed.train(train)
    whole.train(train)
    with torch.no_grad():
        same = torch.allclose(routed(b)["click"], whole(b)["click"], atol=1e-5)
    assert same != train  # evaluation: the same function; training: whole-batch statistics differ


@pytest.mark.parametrize("init", ["ones", "xavier"])
def test_hamur_ones_init_saturates_the_down_projection(init):
    """Scenario-Wise Rec's U = V = 1 start: the down-projection's pre-activations are in the thousands, the sigmoid
    is 1 and U_down, V_down, b_down get exactly zero gradient (the adapter adds a function of Z(e) alone);
    xavier-uniform U, V (the diagnostic) train them."""
    torch.manual_seed(0)
    schema = tiny_schema()
    model = build_model("hamur", {"adapter_init": init}, schema)
    b = random_batch(schema, 64)
    ad = model.adapter
    e = model.embedding(b)
    pre = ad._project(model.backbones[0](e), ad.u_down, model.hyper(e), ad.v_down) + ad.b_down
    assert (pre.min() > 1000) == (init == "ones")
    torch.nn.functional.binary_cross_entropy_with_logits(model(b)["click"], b.labels["click"]).backward()
    down = sum(float(p.grad.abs().sum()) for p in (ad.u_down, ad.v_down, ad.b_down))
    assert (down == 0.0) == (init == "ones") and float(ad.u_up.grad.abs().sum()) > 0
