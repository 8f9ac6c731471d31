"""social_gat: GATConv with self edges over the social sample; masked neighbours ignored, present ones used."""

import torch

from share_synth import check_share_model, neighbours_matter
from unisr.models.social_gat import SelfLoopGAT


def test_social_gat():
    assert neighbours_matter(check_share_model("social_gat"))


def test_a_node_without_neighbours_attends_to_itself():
    layer = SelfLoopGAT(4, heads=2)
    dst = torch.randn(3, 4)
    out = layer((torch.randn(5, 4), dst), torch.zeros(2, 0, dtype=torch.long))
    assert out.shape == (3, 4) and torch.isfinite(out).all()
