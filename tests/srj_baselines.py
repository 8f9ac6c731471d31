"""Schema and batches with a search query and a behaviour history, for the SRJGraph baselines' tests
(NFM, xDeepFM, TEM, AEM+DIN): scenario 0 is a text search, scenario 1 a recommendation feed."""

from __future__ import annotations

import torch

from unisr.data.batch import Batch
from unisr.data.features import FeatureSchema, SequenceField, SparseField

QLEN, HLEN = 4, 6


def search_rec_schema() -> FeatureSchema:
    return FeatureSchema(
        sparse=[SparseField("user.gender", "users", 3, 8), SparseField("item.brand", "items", 20, 8),
                SparseField("item.shop", "items", 12, 4)],  # a field of another size: FieldStack unifies it
        dense=["user.age"],
        sequences=[SequenceField("item.category_path", "items", 9, 3, 8),
                   SequenceField("query_tokens", "queries", 30, QLEN, 8)],
        scenarios=["search_text", "feed_main"], scenario_kinds=["search_text", "recommend"],
        num_users=40, num_items=50,
    )


def search_rec_batch(schema: FeatureSchema, n: int = 32, seed: int = 0, history: bool = True) -> Batch:
    """Search samples carry 1-4 query terms, recommendation samples the empty query (all padding); each user
    has 0..HLEN past clicks, right-aligned."""
    g = torch.Generator().manual_seed(seed)
    sparse = torch.stack([torch.randint(1, f.vocab_size, (n,), generator=g) for f in schema.sparse], 1)
    scen = torch.arange(n) % 2
    qlen = torch.randint(1, QLEN + 1, (n,), generator=g) * (scen == 0)
    qmask = torch.arange(QLEN)[None, :] < qlen[:, None]
    qtok = torch.randint(1, 30, (n, QLEN), generator=g) * qmask
    cat = torch.randint(1, 9, (n, 3), generator=g)
    seqs = {"query_tokens": (qtok, qmask), "item.category_path": (cat, torch.ones(n, 3, dtype=torch.bool))}
    if history:
        hlen = torch.randint(0, HLEN + 1, (n,), generator=g)
        hlen[0] = 0  # a user without any click
        hmask = torch.arange(HLEN)[None, :] >= (HLEN - hlen)[:, None]
        seqs["history"] = (torch.randint(1, 51, (n, HLEN), generator=g) * hmask, hmask)
        seqs["history_scenario"] = (torch.randint(0, 2, (n, HLEN), generator=g) * hmask, hmask)
    return Batch(scenario_id=scen, sparse=sparse, dense=torch.rand(n, 1, generator=g),
                 labels={"click": torch.randint(0, 2, (n,), generator=g).float()},
                 user_index=torch.randint(1, 41, (n,), generator=g),
                 item_index=torch.randint(1, 51, (n,), generator=g), event_id=torch.arange(n), sequences=seqs)


def check_search_rec(model, schema: FeatureSchema, *, uses_history: bool) -> None:
    """Shapes; every parameter gets a finite gradient from a batch with queries and histories; the query and
    (for sequence models) the history change the output, masked history slots and padding do not."""
    batch = search_rec_batch(schema)
    out = model(batch)["click"]
    assert out.shape == (len(batch),) and torch.isfinite(out).all()
    torch.nn.functional.binary_cross_entropy_with_logits(out, batch.labels["click"]).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, f"no gradient reaches {name}"
        g = p.grad.to_dense() if p.grad.is_sparse else p.grad
        assert torch.isfinite(g).all(), name
    model.eval()
    with torch.no_grad():
        for prm in model.parameters():  # embeddings start near zero: make them matter for the checks below
            prm.add_(torch.randn(prm.shape, generator=torch.Generator().manual_seed(7)) * 0.3)
        base = model(batch)["click"]
        # another query for the search samples changes their scores
        qt, qm = batch.sequences["query_tokens"]
        other = Batch(**{**batch.__dict__, "sequences": {**batch.sequences,
                                                           "query_tokens": ((qt + 3).clamp(max=29) * qm, qm)}})
        changed = model(other)["click"]
        search = batch.scenario_id == 0
        assert not torch.allclose(changed[search], base[search])
        assert torch.allclose(changed[~search], base[~search])  # recommendation: still the empty query
        ids, hm = batch.sequences["history"]
        noise = Batch(**{**batch.__dict__, "sequences": {**batch.sequences, "history": (ids + 7 * ~hm, hm)}})
        assert torch.allclose(model(noise)["click"], base, atol=1e-5)  # masked slots are ignored
        if uses_history:
            swapped = Batch(**{**batch.__dict__, "sequences": {**batch.sequences,
                                                                "history": ((ids % 50 + 1) * hm, hm)}})
            diff = (model(swapped)["click"] - base).abs()
            has_hist = hm.any(1)
            assert (diff[has_hist] > 1e-6).all() and (diff[~has_hist] < 1e-6).all()
        single = model(batch.select(torch.tensor([0])))["click"]
        assert single.shape == (1,) and torch.allclose(single, base[:1], atol=1e-5)
        no_hist = search_rec_batch(schema, 8, seed=2, history=False)
        assert torch.isfinite(model(no_hist)["click"]).all()
