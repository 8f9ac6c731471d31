import pytest

from synth import check_ranker, tiny_schema
from unisr.models.registry import build_model


@pytest.mark.parametrize("levels", [1, 2])
def test_ple_routes_specific_experts(levels):
    schema = tiny_schema()
    model = build_model("ple", {"num_levels": levels}, schema)
    check_ranker(model, schema, ["levels.0.specific.{s}.experts.0.net.0.weight", "levels.0.gates.{s}.weight",
                                 "towers.towers.{s}.net.0.weight"])
