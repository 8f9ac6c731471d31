import torch

from srj_baselines import search_rec_batch, search_rec_schema
from synth import tiny_schema
from unisr.nn.fields import QUERY, FieldStack, FirstOrder, default_dim


def test_default_dim_is_the_most_common_size():
    assert default_dim(search_rec_schema()) == 8  # four fields of 8, one of 4
    empty = tiny_schema()
    empty.sparse, empty.sequences = [], []
    assert default_dim(empty) == 16


def test_field_stack_gives_every_feature_one_vector_of_one_size():
    schema = search_rec_schema()
    torch.manual_seed(0)
    fs = FieldStack(schema, 6, sparse_grad=True)
    assert fs.names == ["user.gender", "item.brand", "item.shop", "item.category_path", QUERY, "user.age",
                        "scenario"]
    b = search_rec_batch(schema, 8)
    x = fs(b)
    assert x.shape == (8, fs.num_fields, 6)
    # the query field of the stack is the query embedding; the empty query of recommendation samples
    # (odd rows) is the reserved term, the same vector for all of them
    assert torch.allclose(fs.query_of(x, b), fs.query(b))
    q = fs.query(b)
    assert torch.allclose(q[1], q[3]) and not torch.allclose(q[0], q[2])
    # a dense feature is its value times a learned vector
    assert torch.allclose(x[:, fs.names.index("user.age")], b.dense[:, :1] * fs.dense_vec[0])
    x.sum().backward()
    assert fs.embedding.groups[0].weight.grad.is_sparse and fs.seq.table("item.category_path").weight.grad.is_sparse


def test_field_stack_without_query_or_scenario():
    schema = tiny_schema()
    fs = FieldStack(schema, 4, sparse_grad=False, scenario_field=False)
    assert fs.names == ["user_id", "item_id", "item.category", "user.age"] and fs.query_emb is None
    b = search_rec_batch(search_rec_schema(), 3)
    b.sparse = torch.zeros(3, 3, dtype=torch.long)
    assert fs(b).shape == (3, 4, 4)
    assert torch.equal(fs.query(b), torch.zeros(3, 4))


def test_first_order_is_bias_plus_one_weight_per_field_value():
    schema = search_rec_schema()
    fo = FirstOrder(schema, sparse_grad=False)
    b = search_rec_batch(schema, 5)
    with torch.no_grad():
        fo.bias.fill_(0.5)
    out = fo(b)
    assert out.shape == (5,)
    assert torch.allclose(out, fo.weights(b).sum((1, 2)) + 0.5)
