import torch

from srj_baselines import check_search_rec, search_rec_batch, search_rec_schema
from synth import check_ranker, tiny_schema
from unisr.models.nfm import bi_interaction
from unisr.models.registry import build_model


def test_nfm_shapes_gradients_and_query():
    schema = tiny_schema()
    check_ranker(build_model("nfm", {"hidden": [8]}, schema), schema, [])
    schema = search_rec_schema()
    check_search_rec(build_model("nfm", {"hidden": [8]}, schema), schema, uses_history=False)


def test_bi_interaction_is_the_sum_over_pairs():
    v = torch.randn(5, 4, 3)
    pairs = sum(v[:, i] * v[:, j] for i in range(4) for j in range(i + 1, 4))
    assert torch.allclose(bi_interaction(v), pairs, atol=1e-5)


def test_nfm_fields_cover_every_input():
    schema = search_rec_schema()
    model = build_model("nfm", {}, schema)
    assert model.fields.names == ["user.gender", "item.brand", "item.shop", "item.category_path", "query_tokens",
                                  "user.age", "scenario"]
    x = model.fields(search_rec_batch(schema, 4))
    assert x.shape == (4, 7, 8)
