"""SASS's layers (nn/scenario_gate.py): the scenario-adaptive gate unit's equations (3-6), its ablation variants,
the scenario bias fusion (7-8), ML-SAT routing by scenario and self-attention pooling."""

import pytest
import torch

from unisr.nn.scenario_gate import (
    GATE_KINDS,
    MLSAT,
    ScenarioAdaptiveTower,
    ScenarioBiasFusion,
    ScenarioGateUnit,
    SelfAttentionPooling,
)

D = 8


def _inputs(b=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(b, D, generator=g), torch.randn(b, D, generator=g).tanh(), torch.randn(b, D, generator=g))


def test_gate_unit_equations_shapes_and_gate_ranges():
    torch.manual_seed(0)
    unit = ScenarioGateUnit(D, "adaptive")
    g, s_prev, a = _inputs()
    out = unit(g, s_prev, a)
    assert out.shape == (16, D)
    r, z = unit.gates(g, s_prev, a)
    assert r.shape == z.shape == (16, D)
    assert ((r > 0) & (r < 1)).all() and ((z > 0) & (z < 1)).all()
    # eqs. 3-6 written out by hand
    gs = torch.cat([g, s_prev], 1)
    r_ref = torch.sigmoid(gs @ unit.w_r.weight.T + unit.w_r.bias + a @ unit.w_br.weight.T)
    z_ref = torch.sigmoid(gs @ unit.w_z.weight.T + unit.w_z.bias + a @ unit.w_bz.weight.T)
    h_ref = torch.tanh(torch.cat([r_ref * g, s_prev], 1) @ unit.w_h.weight.T + unit.w_h.bias)
    assert torch.allclose(r, r_ref, atol=1e-6) and torch.allclose(z, z_ref, atol=1e-6)
    assert torch.allclose(out, (1 - z_ref) * s_prev + z_ref * h_ref, atol=1e-6)


def _pin_gate(unit, gate: str, logit: float) -> None:
    """Make gate ``r`` or ``z`` of an adaptive unit the constant sigmoid(logit), whatever its inputs."""
    with torch.no_grad():
        getattr(unit, f"w_{gate}").weight.zero_()
        getattr(unit, f"w_b{gate}").weight.zero_()
        getattr(unit, f"w_{gate}").bias.fill_(logit)


def test_update_gate_zero_keeps_the_previous_state_and_one_takes_the_candidate():
    unit = ScenarioGateUnit(D, "adaptive")
    g, s_prev, a = _inputs()
    _pin_gate(unit, "z", -60.0)  # z = sigmoid(-60) ~ 0
    assert torch.allclose(unit(g, s_prev, a), s_prev, atol=1e-6)  # eq. 6: s_l = s_{l-1}
    _pin_gate(unit, "z", 60.0)  # z ~ 1: s_l = h_l, which depends on the global output g
    out1 = unit(g, s_prev, a)
    assert not torch.allclose(out1, s_prev, atol=1e-3)
    r, _ = unit.gates(g, s_prev, a)
    h = torch.tanh(unit.w_h(torch.cat([r * g, s_prev], 1)))
    assert torch.allclose(out1, h, atol=1e-6)


def test_adaptive_gate_zero_blocks_the_global_information():
    unit = ScenarioGateUnit(D, "adaptive")
    g, s_prev, a = _inputs()
    _pin_gate(unit, "r", -60.0)  # r ~ 0: h_l = tanh(W_h [0, s_{l-1}])
    _pin_gate(unit, "z", 60.0)  # z ~ 1 (s_l = h_l) but with r ~ 0 and z constant nothing of g gets through
    out = unit(g, s_prev, a)
    out_other_g = unit(torch.randn_like(g) * 5, s_prev, a)
    assert torch.allclose(out, out_other_g, atol=1e-5)


@pytest.mark.parametrize("kind", GATE_KINDS)
def test_gate_variants_shapes_and_gradients(kind):
    unit = ScenarioGateUnit(D, kind)
    g, s_prev, a = _inputs()
    g.requires_grad_(True)
    out = unit(g, s_prev, a)
    assert out.shape == (16, D) and torch.isfinite(out).all()
    out.sum().backward()
    assert g.grad is not None and g.grad.abs().sum() > 0  # every variant transfers global information
    for name, p in unit.named_parameters():
        assert p.grad is not None, f"{kind}: no gradient reaches {name}"


def test_unknown_gate_kind_is_refused():
    with pytest.raises(ValueError, match="gate kind"):
        ScenarioGateUnit(D, "softmax")


def test_bias_fusion_is_a_convex_mix_of_main_output_and_scenario_bias():
    fusion = ScenarioBiasFusion(D)
    s, a = torch.randn(10, D), torch.randn(10, D)
    e = fusion(s, a)
    lo, hi = torch.minimum(s, a), torch.maximum(s, a)
    assert ((e >= lo - 1e-6) & (e <= hi + 1e-6)).all()
    with torch.no_grad():
        fusion.w_o.weight.zero_()
        fusion.w_o.bias.fill_(60.0)  # alpha ~ 1: e = s_T
    assert torch.allclose(fusion(s, a), s, atol=1e-6)


def test_mlsat_stack_checks_its_layers():
    m = MLSAT(5, D, 3)
    x, g, a = torch.randn(4, 5), torch.randn(4, 3, D), torch.randn(4, D)
    assert m(x, g, a).shape == (4, D)
    with pytest.raises(ValueError, match="3 layers"):
        m(x, g[:, :2], a)


def test_tower_routes_rows_to_their_scenario_only():
    torch.manual_seed(0)
    tower = ScenarioAdaptiveTower(5, 4, D, 3)
    seen = {s: 0 for s in range(4)}
    for s, mod in enumerate(tower.scenario):
        mod.register_forward_hook(lambda _m, inp, _o, s=s: seen.__setitem__(s, seen[s] + inp[0].shape[0]))
    x = torch.randn(12, 5)
    scen = torch.tensor([0, 2, 2, 0, 2, 0, 0, 2, 2, 2, 0, 0])
    e, g_t = tower(x, scen)
    assert e.shape == g_t.shape == (12, D)
    assert seen == {0: 6, 1: 0, 2: 6, 3: 0}  # each scenario's ML-SAT ran on its own rows, absent ones not at all
    # row i's output is its scenario's module applied to row i alone
    for i in (0, 1):
        ei, _ = tower(x[i:i + 1], scen[i:i + 1])
        assert torch.allclose(ei, e[i:i + 1], atol=1e-6)
    e.sum().backward()
    assert all(p.grad is None for p in tower.scenario[1].parameters())
    assert all(p.grad is not None for p in tower.scenario[2].parameters())
    with pytest.raises(ValueError, match="out of range"):
        tower(x[:1], torch.tensor([4]))


def test_self_attention_pooling_ignores_padding_and_empty_rows_are_zero():
    torch.manual_seed(0)
    pool = SelfAttentionPooling(D, heads=2)
    h = torch.randn(3, 5, D)
    mask = torch.tensor([[False, False, True, True, True], [True] * 5, [False] * 5])
    out = pool(h, mask)
    assert out.shape == (3, D) and torch.isfinite(out).all()
    assert torch.allclose(out[2], torch.zeros(D))
    h2 = h.clone()
    h2[0, :2] = torch.randn(2, D) * 10  # padded positions change: the pooled vector does not
    assert torch.allclose(pool(h2, mask)[0], out[0], atol=1e-5)
    h3 = h.clone()
    h3[0, 3] += 1.0
    assert not torch.allclose(pool(h3, mask)[0], out[0], atol=1e-4)


def test_aux_net_is_per_scenario_and_bounded_on_request():
    from unisr.nn.scenario_gate import ScenarioAuxNet

    torch.manual_seed(0)
    aux = ScenarioAuxNet(3, 4, D, bounded=True)
    with torch.no_grad():
        aux.net[-1].weight.mul_(100.0)  # a large pre-activation still gives |a| <= 1
    a = aux(torch.tensor([0, 1, 1, 2]))
    assert a.shape == (4, D) and (a.abs() <= 1).all()
    assert torch.allclose(a[1], a[2]) and not torch.allclose(a[0], a[1])  # a depends on the scenario only
    free = ScenarioAuxNet(3, 4, D, bounded=False)
    with torch.no_grad():
        free.net[-1].weight.mul_(100.0)
    assert free(torch.tensor([0, 1])).abs().max() > 1
