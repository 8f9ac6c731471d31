import torch

from synth import random_batch, tiny_schema
from unisr.data.features import SequenceField
from unisr.nn.embedding import FeatureEmbedding


def test_sequences_mean_pooled_over_mask():
    schema = tiny_schema()
    schema.sequences = [SequenceField("query_tokens", "queries", 10, 3, 4)]
    emb = FeatureEmbedding(schema, sparse_grad=True)
    b = random_batch(schema, 3)
    ids = torch.tensor([[1, 2, 0], [0, 0, 0], [5, 0, 0]])
    b.sequences["query_tokens"] = (ids, ids > 0)
    out = emb(b)
    assert out.shape == (3, emb.out_dim) and emb.out_dim == 3 * 8 + 4 + 1
    w = emb.bags["query_tokens"].weight
    q = out[:, 24:28]
    assert torch.allclose(q[0], (w[1] + w[2]) / 2)
    assert torch.allclose(q[1], torch.zeros(4))  # empty query (recommendation) pools to zeros
    assert torch.allclose(q[2], w[5])
    out.sum().backward()
    assert emb.bags["query_tokens"].weight.grad.is_sparse


def test_missing_sequence_gives_zeros():
    schema = tiny_schema()
    schema.sequences = [SequenceField("query_tokens", "queries", 10, 3, 4)]
    emb = FeatureEmbedding(schema)
    out = emb(random_batch(schema, 2))
    assert torch.equal(out[:, 24:28], torch.zeros(2, 4))


def test_one_sparse_rule_counts_every_table_row():
    from unisr.nn.embedding import SPARSE_AUTO_ROWS, embedding_rows, sparse_gradients

    schema = tiny_schema()
    schema.sequences = [SequenceField("query_tokens", "queries", 10, 3, 4)]
    assert embedding_rows(schema) == 50 + 40 + 6 + 10
    assert not sparse_gradients(SPARSE_AUTO_ROWS - 1) and sparse_gradients(SPARSE_AUTO_ROWS)
    assert sparse_gradients(10, True) and not sparse_gradients(10 * SPARSE_AUTO_ROWS, False)
    assert not FeatureEmbedding(schema, sparse_grad=None).sparse_grad  # 106 rows: dense
