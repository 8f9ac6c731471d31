import torch

from srj_baselines import check_search_rec, search_rec_schema
from synth import check_ranker, tiny_schema
from unisr.models.registry import build_model
from unisr.models.xdeepfm import CIN


def test_xdeepfm_shapes_gradients_and_query():
    schema = tiny_schema()
    check_ranker(build_model("xdeepfm", {"cin": [4, 4], "hidden": [8]}, schema), schema, [])
    schema = search_rec_schema()
    check_search_rec(build_model("xdeepfm", {"cin": [4, 3], "hidden": [8]}, schema), schema, uses_history=False)


def test_cin_layer_matches_the_paper_formula():
    """X^1_h = sum_ij W^{1,h}_ij (X^0_i o X^0_j); p^1_h = sum over the embedding axis (xDeepFM eqs. 6-7)."""
    torch.manual_seed(0)
    cin = CIN(3, [2, 5])
    x0 = torch.randn(4, 3, 6)
    w = cin.convs[0].weight.reshape(2, 3, 3)
    b = cin.convs[0].bias
    x1 = torch.einsum("hij,bid,bjd->bhd", w, x0, x0) + b[None, :, None]
    p = cin(x0)
    assert p.shape == (4, 7)
    assert torch.allclose(p[:, :2], x1.sum(2), atol=1e-5)
    w2 = cin.convs[1].weight.reshape(5, 2, 3)
    x2 = torch.einsum("hij,bid,bjd->bhd", w2, x1, x0) + cin.convs[1].bias[None, :, None]
    assert torch.allclose(p[:, 2:], x2.sum(2), atol=1e-4)
