from synth import check_ranker, tiny_schema
from unisr.models.registry import build_model


def test_dnn_shapes_and_gradients():
    schema = tiny_schema()
    model = build_model("dnn", {"hidden": [16, 8]}, schema)
    check_ranker(model, schema, [])
