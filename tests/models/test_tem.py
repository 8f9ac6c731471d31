import torch

from srj_baselines import check_search_rec, search_rec_batch, search_rec_schema
from synth import check_ranker, tiny_schema
from unisr.models.registry import build_model, get_model_info


def test_tem_without_history_and_query():
    schema = tiny_schema()
    check_ranker(build_model("tem", {"mlp": [8], "history_scenario": False}, schema), schema, [])


def test_tem_shapes_gradients_history_and_query():
    schema = search_rec_schema()
    check_search_rec(build_model("tem", {"mlp": [8], "ffn_dim": 16}, schema), schema, uses_history=True)


def test_tem_history_order_matters_and_defaults():
    schema = search_rec_schema()
    model = build_model("tem", {"mlp": [8]}, schema).eval()
    batch = search_rec_batch(schema, 16)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(1)) * 0.3)
        ids, mask = batch.sequences["history"]
        full = mask.all(1)
        assert full.any()
        rev = batch.select(torch.arange(16))
        rev.sequences = {**rev.sequences, "history": (ids.flip(1) * mask, mask),
                         "history_scenario": (batch.sequences["history_scenario"][0].flip(1) * mask, mask)}
        # the position embeddings make the encoder order-aware
        assert not torch.allclose(model(rev)["click"][full], model(batch)["click"][full])
    assert get_model_info("tem").defaults["data"]["history_len"] == 25
