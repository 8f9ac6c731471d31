"""pinsage: SAGEConv with mean / max-pool / LSTM aggregators; masked neighbours ignored, present ones used."""

import pytest

from share_synth import check_share_model, neighbours_matter


@pytest.mark.parametrize("aggregator", ["mean", "max", "lstm"])
def test_pinsage(aggregator):
    net = check_share_model("pinsage", aggregator=aggregator)
    assert str(net.layers[0].conv.aggr_module).lower().startswith(aggregator)
    assert neighbours_matter(net)
