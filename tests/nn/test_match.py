"""nn/match.py: K-NRM term kernels, category levels and vector cosines on the shared tables."""

import torch

from synth import random_batch, tiny_schema
from unisr.data.features import SequenceField, VectorField
from unisr.nn.content import SequenceTables, VectorProjections
from unisr.nn.match import KERNEL_MU, QueryItemMatch, by_position, gated_pool, kernel_pool


def _schema():
    s = tiny_schema()
    s.sequences = [SequenceField("item.title_tokens", "items", 30, 4, 8, "terms"),
                   SequenceField("query_tokens", "queries", 30, 3, 8, "terms"),
                   SequenceField("item.category_path", "items", 20, 3, 8, "categories"),
                   SequenceField("query.category", "queries", 20, 1, 8, "categories")]
    s.vectors = [VectorField("item.image_emb", "items", 5, 8, "image_emb"),
                 VectorField("query.emb", "queries", 5, 8, "image_emb")]
    return s


def test_exact_kernel_counts_query_terms_found_in_the_title():
    sim = torch.tensor([[[1.0, 0.2], [0.3, 0.1]]])  # query term 0 is in the title, term 1 is not
    mu, sigma = torch.tensor([1.0, 0.0]), torch.tensor([1e-3, 0.1])
    k = kernel_pool(sim, torch.ones(1, 2), torch.ones(1, 2), mu, sigma)
    assert torch.allclose(k[0, 0], torch.log1p(torch.tensor(1.0)) / 2)  # one of two terms matches exactly
    # a padded title position never counts
    assert torch.allclose(kernel_pool(sim, torch.ones(1, 2), torch.tensor([[0.0, 1.0]]), mu, sigma)[0, 0],
                          torch.tensor(0.0), atol=1e-6)


def test_match_features_from_shared_ids_and_zeros_without_a_query():
    s = _schema()
    torch.manual_seed(0)
    tables, vectors = SequenceTables(s.sequences, sparse=False), VectorProjections(s.vectors)
    m = QueryItemMatch(s, tables, vectors)
    assert m.out_dim == 2 * len(KERNEL_MU) + 3 + 1  # mean and gated kernels, 3 levels, 1 cosine
    b = random_batch(s, 2)
    b.sequences = {"query_tokens": (torch.tensor([[5, 6, 0], [0, 0, 0]]), torch.tensor([[1, 1, 0], [0, 0, 0]]).bool()),
                   "item.title_tokens": (torch.tensor([[9, 5, 6, 0], [5, 6, 0, 0]]),
                                         torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]]).bool()),
                   "query.category": (torch.tensor([[4], [0]]), torch.tensor([[True], [False]])),
                   "item.category_path": (torch.tensor([[2, 3, 4], [2, 3, 4]]), torch.ones(2, 3).bool())}
    b.vectors = {"item.image_emb": torch.randn(2, 5), "query.emb": torch.zeros(2, 5)}
    b.vectors["query.emb"][0] = b.vectors["item.image_emb"][0]
    f = m(b)
    exact = torch.log1p(torch.tensor(1.0))
    k = len(KERNEL_MU)
    assert torch.allclose(f[0, 0], exact, atol=1e-4)  # both query terms are in the title
    assert torch.allclose(f[0, k], exact, atol=1e-4)  # gated: the weights sum to 1 over the query's terms
    assert torch.equal(f[1, :2 * k], torch.zeros(2 * k))  # no query: zeros
    lv = f[:, 2 * k:2 * k + 3]
    assert torch.allclose(lv[0, 2], torch.tensor(1.0)) and lv[0, :2].abs().max() < 0.999  # the leaf matches
    assert torch.equal(lv[1], torch.zeros(3))
    assert torch.allclose(f[0, -1], torch.tensor(1.0), atol=1e-5) and f[1, -1] == 0  # one projection for both


def test_term_gate_weighs_the_terms_it_scores_higher():
    per_term = torch.tensor([[[1.0, 0.0], [0.0, 2.0], [5.0, 5.0]]])  # three query terms, two kernels
    mask = torch.tensor([[True, True, False]])  # the third term is padding
    favour_0 = gated_pool(per_term, torch.tensor([[20.0, 0.0, 99.0]]), mask)
    assert torch.allclose(favour_0, torch.tensor([[1.0, 0.0]]), atol=1e-6)  # padding never weighs, even high
    equal = gated_pool(per_term, torch.zeros(1, 3), mask)
    assert torch.allclose(equal, torch.tensor([[0.5, 1.0]]))
    assert torch.equal(gated_pool(per_term, torch.zeros(1, 3), torch.zeros(1, 3, dtype=torch.bool)), torch.zeros(1, 2))


def test_by_position_keeps_each_query_term_apart_in_query_order():
    per_term = torch.arange(12.0).reshape(1, 3, 4)  # one query of three terms, four kernels
    assert torch.equal(by_position(per_term, 2), torch.arange(8.0).reshape(1, 8))  # the first two terms only
    padded = by_position(per_term, 5)  # longer than the query: zeros after its terms
    assert torch.equal(padded[0, :12], torch.arange(12.0)) and torch.equal(padded[0, 12:], torch.zeros(8))


def test_positions_tell_which_query_term_matched_and_raw_cosine_needs_no_learning():
    s = _schema()
    torch.manual_seed(0)
    tables, vectors = SequenceTables(s.sequences, sparse=False), VectorProjections(s.vectors)
    m = QueryItemMatch(s, tables, vectors, positions=2, raw_cosine=True)
    k = len(KERNEL_MU)
    assert m.out_dim == 4 * k + 3 + 2  # mean, gated, two positions' kernels; 3 levels; 2 cosines
    b = random_batch(s, 2)
    # the same two query terms; row 0's title holds the first, row 1's the second: mean and gate cannot tell apart
    q = torch.tensor([[5, 6, 0], [5, 6, 0]])
    b.sequences = {"query_tokens": (q, torch.tensor([[1, 1, 0], [1, 1, 0]]).bool()),
                   "item.title_tokens": (torch.tensor([[5, 9, 0, 0], [6, 9, 0, 0]]),
                                         torch.tensor([[1, 1, 0, 0], [1, 1, 0, 0]]).bool()),
                   "query.category": (torch.tensor([[4], [4]]), torch.tensor([[True], [True]])),
                   "item.category_path": (torch.tensor([[2, 3, 4], [2, 3, 4]]), torch.ones(2, 3).bool())}
    v = torch.nn.functional.normalize(torch.randn(2, 5), dim=1)
    b.vectors = {"item.image_emb": v, "query.emb": torch.stack([v[0], -v[1]])}
    f = m(b)
    exact = torch.log1p(torch.tensor(1.0))
    pos = f[:, 2 * k:4 * k].reshape(2, 2, k)[..., 0]  # the exact-match kernel of query terms 0 and 1
    assert torch.allclose(pos[0], torch.stack([exact, torch.tensor(0.0)]), atol=1e-4)
    assert torch.allclose(pos[1], torch.stack([torch.tensor(0.0), exact]), atol=1e-4)
    assert torch.allclose(f[0, 0], f[1, 0], atol=1e-4)  # the mean pool sees one match of two in both rows
    # the raw cosine (last column) is that of the given vectors, whatever the projection learned
    assert torch.allclose(f[:, -1], torch.tensor([1.0, -1.0]), atol=1e-5)
