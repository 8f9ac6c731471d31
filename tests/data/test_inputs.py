"""data/inputs.py + the encoder and loader: the version-2 inputs on a real (tiny) simulation's Parquet files."""

import numpy as np
import pytest
import torch

from unisr.data.features import FeatureEncoder
from unisr.data.inputs import InputsConfig
from unisr.data.loader import DatasetContext, EventLoader, LoaderConfig
from unisr.data.schema import DatasetSpec
from unisr.nn.embedding import FeatureEmbedding
from unisr.nn.entity import entity_encoders
from unisr.nn.fields import FieldStack


@pytest.fixture(scope="module")
def v2(sim_dir):
    enc = FeatureEncoder.fit(sim_dir, DatasetSpec.load(sim_dir), inputs=InputsConfig(version=2).effective())
    return DatasetContext.open(sim_dir, enc)


def _batches(ctx, split="train", n=2000):
    return list(EventLoader(ctx, split, LoaderConfig(batch_size=n), train=False).epoch(0))


def test_version_1_is_the_inputs_before(sim_dir):
    old = FeatureEncoder.fit(sim_dir, DatasetSpec.load(sim_dir))
    one = FeatureEncoder.fit(sim_dir, DatasetSpec.load(sim_dir), inputs=InputsConfig(version=1).effective())
    assert old.schema.to_dict() == one.schema.to_dict()
    assert not old.schema.vectors and all(not f.vocab for f in old.schema.sequences)
    with pytest.raises(ValueError, match="data.inputs.version"):
        InputsConfig(version=4).effective()


def test_schema_of_version_2(v2):
    s = v2.encoder.schema
    seq = {f.name: f for f in s.sequences}
    assert seq["item.title_tokens"].table_key == seq["query_tokens"].table_key == "terms"
    assert seq["item.title_tokens"].vocab_size == seq["query_tokens"].vocab_size
    assert seq["item.category_path"].table_key == seq["query.category"].table_key == "categories"
    assert seq["query.category"].embed_dim == seq["item.category_path"].embed_dim
    assert seq["trigger.title_tokens"].table_key == "terms" and seq["trigger.title_tokens"].table == "events"
    vec = {v.name: v for v in s.vectors}
    assert vec["item.image_emb"].space == vec["trigger.image_emb"].space == vec["query.emb"].space == "image_emb"
    assert "event.item_age" in s.dense
    assert s.item_node_terms() == seq["item.title_tokens"].max_len


def test_shared_vocabulary_gives_a_query_term_and_a_title_term_one_vector(v2):
    s = v2.encoder.schema
    torch.manual_seed(0)
    emb, stack = FeatureEmbedding(s, sparse_grad=False), FieldStack(s, 8, sparse_grad=False)
    for tables in (emb.seq, stack.seq):
        assert tables.table("query_tokens") is tables.table("item.title_tokens")
        assert tables.table("query.category") is tables.table("item.category_path")
    term = torch.tensor([[7, 0, 0]])
    for tables in (emb.seq, stack.seq):
        assert torch.equal(tables.pool("query_tokens", term), tables.pool("item.title_tokens", term))
        assert not torch.equal(tables.pool("query_tokens", term), tables.pool("query_tokens", term + 1))
    # the graph models: an item node's title term and the same query term are one vector
    _, items, query = entity_encoders(s, sparse=False)
    n_fields = items.n_fields
    node = torch.zeros(1, n_fields + items.n_terms, dtype=torch.long)
    node[0, n_fields] = 7
    assert torch.equal(items(node)[0, items.fields.out_dim:], query.terms(torch.tensor([[7]]))[0])


def test_query_category_and_trigger_content_come_from_their_tables(v2, sim_dir):
    import pyarrow.parquet as pq

    enc = v2.encoder
    b = _batches(v2)[0]
    q = pq.read_table(sim_dir / "queries.parquet", columns=["query_id", "category"]).to_pydict()
    qcat = dict(zip(q["query_id"], q["category"], strict=True))
    ev = pq.read_table(sim_dir / "events.parquet", columns=["event_id", "query_id"]).to_pydict()
    evq = dict(zip(ev["event_id"], ev["query_id"], strict=True))
    cat = b.sequences["query.category"][0][:, 0].numpy()
    checked = np.flatnonzero(cat > 0)[:20]
    assert len(checked)
    for i in checked:
        assert cat[i] == qcat[evq[int(b.event_id[i])]] + 1  # shifted by one, as the category path
    trig = b.trigger_index.numpy()
    has = trig > 0
    assert has.any() and (b.sequences["trigger.title_tokens"][0].numpy()[~has] == 0).all()
    title = enc.item_seq["item.title_tokens"][0]
    assert np.array_equal(b.sequences["trigger.title_tokens"][0].numpy()[has], title[trig[has]])
    img = enc.item_vec["item.image_emb"]
    assert np.allclose(b.vectors["trigger.image_emb"].numpy()[has], img[trig[has]])
    assert np.allclose(b.vectors["item.image_emb"].numpy(), img[b.item_index.numpy()])


def test_a_trigger_query_changes_with_its_trigger_items_content(v2):
    """The trigger query is represented by the trigger item's content: changing that item's title changes the
    representation of the queries it triggers, and of no other sample."""
    enc, s = v2.encoder, v2.encoder.schema
    b = next(x for x in _batches(v2) if (x.trigger_index > 0).any())
    torch.manual_seed(0)
    emb = FeatureEmbedding(s, sparse_grad=False, match=True)
    _, _, query = entity_encoders(s, sparse=False)
    for t in list(emb.parameters()) + list(query.parameters()):
        torch.nn.init.normal_(t, std=0.3)
    before = (emb(b).detach(), query(b).detach())
    item = int(b.trigger_index[b.trigger_index > 0][0])
    ids, mask = enc.item_seq["item.title_tokens"]
    saved = ids[item].copy()
    try:
        ids[item] = np.where(mask[item], (ids[item] % 50) + 3, 0)  # other terms, same length
        b2 = next(x for x in _batches(v2) if int(x.event_id[0]) == int(b.event_id[0]))
    finally:
        ids[item] = saved
    after = (emb(b2).detach(), query(b2).detach())
    hit = (b.trigger_index == item) | (b.item_index == item)
    for x, y in zip(before, after, strict=True):
        changed = (x - y).abs().sum(1) > 1e-6
        assert changed[b.trigger_index == item].all()
        assert not changed[~hit].any()


def test_vectors_must_have_one_length(write_dataset, canonical_tables):
    import pyarrow as pa

    items = canonical_tables["items"]
    n = items.num_rows
    emb = pa.array([[0.1, 0.2]] * (n - 1) + [[0.1, 0.2, 0.3]], pa.list_(pa.float32()))
    root = write_dataset({**canonical_tables, "items": items.append_column("image_emb", emb)})
    with pytest.raises(ValueError, match=r"items.parquet column 'image_emb': row \d+ has \d values, expected \d"):
        FeatureEncoder.fit(root, DatasetSpec.load(root), inputs=InputsConfig().effective())
