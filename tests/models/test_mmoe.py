from synth import check_ranker, tiny_schema
from unisr.models.registry import build_model


def test_mmoe_routes_gates_and_towers():
    schema = tiny_schema()
    model = build_model("mmoe", {"num_experts": 4}, schema)
    check_ranker(model, schema, ["gates.{s}.weight", "towers.towers.{s}.net.0.weight"])
