import torch

from srj_baselines import HLEN, search_rec_batch, search_rec_schema
from unisr.nn.behaviour import BehaviourEmbedding


def test_history_is_item_plus_scenario_embedding_and_masked():
    schema = search_rec_schema()
    torch.manual_seed(0)
    emb = BehaviourEmbedding(schema.num_items, schema.num_scenarios, 6, sparse_grad=True)
    b = search_rec_batch(schema, 8)
    h, mask = emb.history(b)
    ids, m = b.sequences["history"]
    scen = b.sequences["history_scenario"][0]
    assert h.shape == (8, HLEN, 6) and torch.equal(mask, m)
    expect = (emb.item.weight[ids] + emb.scenario.weight[scen]) * m.unsqueeze(2)
    assert torch.allclose(h, expect)
    assert torch.equal(h[0], torch.zeros(HLEN, 6))  # the user without clicks
    assert torch.allclose(emb.target(b), emb.item.weight[b.item_index])
    h.sum().backward()
    assert emb.item.weight.grad.is_sparse


def test_without_history_one_masked_slot():
    schema = search_rec_schema()
    emb = BehaviourEmbedding(schema.num_items, schema.num_scenarios, 4, sparse_grad=False, scenario=False)
    assert emb.scenario is None
    h, mask = emb.history(search_rec_batch(schema, 3, history=False))
    assert h.shape == (3, 1, 4) and not mask.any() and torch.equal(h, torch.zeros(3, 1, 4))
