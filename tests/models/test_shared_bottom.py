from synth import check_ranker, tiny_schema
from unisr.models.registry import build_model


def test_shared_bottom_routes_towers():
    schema = tiny_schema()
    model = build_model("shared_bottom", {}, schema)
    check_ranker(model, schema, ["towers.towers.{s}.net.0.weight"])
