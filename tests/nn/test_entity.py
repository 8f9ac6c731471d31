"""nn/entity.py: per-field entity embeddings (SRJGraph eqs. 1-2), sum-pooled query embeddings (eq. 3)."""

import torch

from synth import tiny_schema
from unisr.data.features import SequenceField
from unisr.nn.entity import FieldEmbedding, NodeEmbedding, QueryEmbedding, entity_fields


def test_empty_query_uses_reserved_term():
    q = QueryEmbedding(20, 8, sparse=False)
    tok = torch.tensor([[0, 0, 0, 0], [3, 5, 0, 0]])
    e = q(tok)
    assert torch.allclose(e[0], q.empty)  # the empty query: its own learned vector (the reserved term)
    assert torch.allclose(e[1], q.table.weight[3] + q.table.weight[5])  # sum pooling (eq. 3)


def test_shared_table_is_not_copied():
    table = torch.nn.Embedding(20, 8, padding_idx=0)
    q = QueryEmbedding(20, 8, sparse=False, table=table)
    assert q.terms is table and "table.weight" not in q.state_dict()
    assert torch.allclose(q(torch.tensor([[7, 0]]))[0], table.weight[7])


def test_field_embedding_per_field_sizes():
    emb = FieldEmbedding([10, 3, 5], [16, 4, 4], sparse=False)
    idx = torch.tensor([[[1, 2, 4]], [[9, 0, 0]]])
    out = emb(idx)
    assert out.shape == (2, 1, 24) and emb.out_dim == 24
    assert torch.equal(out[1, 0, :16], emb.tables[0].weight[9])  # id (size 16) then the two size-4 fields
    assert torch.equal(out[0, 0, 20:], emb.tables[1].weight[3 + 4])  # third field: offset 3 in its table


def test_entity_fields_split_users_items_and_leaf_category():
    s = tiny_schema(3)
    assert entity_fields(s) == {"user": ([50], [8]), "item": ([40, 6], [8, 8])}
    s.sequences = [SequenceField("item.category_path", "items", 12, 3, 4)]
    assert entity_fields(s)["item"] == ([40, 6, 12], [8, 8, 4])  # the leaf category joins the item fields


def test_sparse_flag_reaches_every_table():
    emb = FieldEmbedding([10, 3], [4, 8], sparse=True)
    q = QueryEmbedding(5, 4, sparse=True)
    (emb(torch.tensor([[1, 2]])).sum() + q(torch.tensor([[1, 0]])).sum()).backward()
    assert all(t.weight.grad.is_sparse for t in emb.tables) and q.table.weight.grad.is_sparse


def test_node_id_dropout_replaces_ids_in_training_only():
    emb = NodeEmbedding(FieldEmbedding([10, 3], [4, 4], sparse=False), 2, id_dropout=0.5)
    idx = torch.tensor([[7, 2]]).repeat(4000, 1)
    torch.manual_seed(0)
    dropped = emb.drop_ids(idx)
    assert torch.equal(dropped[:, 1], idx[:, 1])  # only the id column (the first field) is touched
    share = (dropped[:, 0] == 0).float().mean().item()
    assert abs(share - 0.5) < 0.03 and set(dropped[:, 0].tolist()) == {0, 7}  # the OOV row, with p = 0.5
    torch.manual_seed(0)
    out = emb(idx)  # the forward draws the same mask from the same seed: dropped rows read the OOV row
    assert torch.equal(out[dropped[:, 0] == 0, :4], emb.fields.tables[0].weight[0].expand(int((dropped[:, 0] == 0).sum()), 4))
    emb.eval()
    assert torch.equal(emb.drop_ids(idx), idx)  # evaluation never drops
    assert torch.equal(emb(idx[:1])[0, :4], emb.fields.tables[0].weight[7])
