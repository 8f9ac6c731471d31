"""share_dnn (TreeMS's DNN baseline): shapes, gradients, masked neighbours ignored, pair indicators of eq. 3's t."""

import torch

from share_synth import VIEWS, build, check_share_model, share_batch, share_schema
from unisr.models.graph_configs import DEFAULT_PAIR_VIEWS
from unisr.nn.social import pair_indicators


def test_share_dnn():
    check_share_model("share_dnn")


def test_pair_indicators_see_only_present_neighbours():
    b = share_batch(share_schema(), 32)
    sub = b.subgraph
    t = pair_indicators(sub, list(VIEWS), b.user_index, b.target_user_index)
    assert t.shape == (32, 2 * len(VIEWS))
    for col, role, other in ((0, "src", b.target_user_index), (len(VIEWS), "dst", b.user_index)):
        hop = sub.neighbourhood("friend", role).hops[0]
        want = ((hop.nodes == other[:, None]) & hop.mask).any(1)
        assert torch.equal(t[:, col].bool(), want)
        assert want.any()  # share_batch plants the other user among the seed's friends in half the rows


def test_exact_pair_history_from_the_hook_replaces_the_sampled_one():
    b = share_batch(share_schema(), 8)
    exact = torch.zeros(8, len(VIEWS))
    exact[3, 1] = 1.0
    b.subgraph.pair = exact
    t = pair_indicators(b.subgraph, list(VIEWS), b.user_index, b.target_user_index)
    assert torch.equal(t[:, : len(VIEWS)], exact)


def test_pair_features_switch_changes_input_width():
    off = build("share_dnn", pair_features=False).input.x_dim
    assert build("share_dnn", pair_mode="symmetric").input.x_dim - off == 2 * len(VIEWS)
    assert build("share_dnn").input.x_dim - off == 4 * len(DEFAULT_PAIR_VIEWS)  # directed: flags + log weights
