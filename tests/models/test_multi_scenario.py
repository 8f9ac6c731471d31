"""multi_scenario (TreeMS's Multi-Scenario baseline): the scenario layer is routed to its scenario's samples."""

from share_synth import check_share_model


def test_multi_scenario_routes_the_scenario_layer():
    check_share_model("multi_scenario", ["scenario_layers.{s}.weight"])
