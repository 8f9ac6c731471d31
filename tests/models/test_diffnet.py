"""diffnet: diffusion layers over the social sample; masked neighbours ignored, present ones used."""

from share_synth import check_share_model, neighbours_matter


def test_diffnet():
    net = check_share_model("diffnet")
    assert len(net.layers) == 2  # one diffusion layer per sampled hop
    assert neighbours_matter(net)
