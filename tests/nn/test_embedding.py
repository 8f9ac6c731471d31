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
    w = emb.seq.table("query_tokens").weight
    q = out[:, 24:28]
    assert torch.allclose(q[0], (w[1] + w[2]) / 2)
    assert torch.allclose(q[1], torch.zeros(4))  # empty query (recommendation) pools to zeros
    assert torch.allclose(q[2], w[5])
    out.sum().backward()
    assert emb.seq.table("query_tokens").weight.grad.is_sparse


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


def test_oov_id_row_is_trained_and_dense_item_age_reaches_the_output():
    """Cold ids share row 0 of their field (``FeatureEncoder.fit(id_vocab="train")``): that row must take
    gradients like any other (no padding_idx on categorical fields), and an event-level dense field such as
    ``event.item_age`` is part of the output."""
    schema = tiny_schema()
    schema.dense = ["user.age", "event.item_age"]
    emb = FeatureEmbedding(schema, sparse_grad=False)
    b = random_batch(schema, 4)
    b.sparse[:, 1] = 0  # every item OOV
    b.dense[:, 1] = torch.tensor([0.0, 0.1, 0.5, 1.0])
    out = emb(b)
    assert emb.out_dim == 3 * 8 + 2 and torch.equal(out[:, -1], b.dense[:, 1])
    out[:, 8:16].sum().backward()  # the item_id field's slice
    g = emb.groups[0].weight.grad
    off = int(emb.offsets_0[1])
    assert g[off].abs().sum() > 0  # the OOV row of item_id is trained
    assert g[off + 1:off + schema.sparse[1].vocab_size].abs().sum() == 0
