"""share_mmoe (TreeMS's MMoE baseline): gates and towers routed per scenario; scenario representations."""

from share_synth import check_share_model


def test_share_mmoe_routes_gates_and_towers():
    net = check_share_model("share_mmoe", ["gates.{s}.weight", "towers.towers.{s}.net.0.weight"], num_experts=4,
                            expert=[16, 8], tower=[8])
    assert net.scenario_representations().shape == (3, 16)
