"""MIND (models/mind.py, nn/capsule.py): squash, B2I routing into K distinct interests with untrained random
initial logits, the dynamic interest count, label-aware attention weights, evaluation's score = the max over the
interests (also through the index's multi-interest search), a short training run, and ``unisr train --model
mind`` end to end on the simulated feeds."""

import json
import subprocess
import sys
from pathlib import Path

import faiss
import numpy as np
import pytest
import torch

from seq_synth import fake_encoder, training_lowers_heldout_loss, with_history
from synth import random_batch, tiny_schema
from unisr.index.faiss_index import search
from unisr.models.registry import build_model, get_model_info
from unisr.nn.capsule import B2IRouting, interest_count, label_aware_attention, squash

UNISR = str(Path(sys.executable).parent / "unisr")
PARAMS = {"dim": 8, "capsule_dim": 8, "interests": 3, "hidden": [16], "positions": 8}


def _model(**kw):
    torch.manual_seed(0)
    schema = tiny_schema()
    m = build_model("mind", {**PARAMS, **kw}, schema)
    m.attach_items(fake_encoder(schema))
    return schema, m


def test_squash_keeps_the_direction_and_a_norm_below_one():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(50, 8, generator=g) * torch.logspace(-3, 3, 50)[:, None]
    u = squash(z)
    n = u.norm(dim=1)
    # strictly inside the unit ball; in float32 |z|^2 / (1 + |z|^2) rounds to 1 once |z| is over ~4e3
    assert (n > 0).all() and (n <= 1).all() and (n[z.norm(dim=1) < 100] < 1).all()
    assert (squash(z.double()).norm(dim=1) < 1).all()
    assert torch.allclose(n, z.norm(dim=1) ** 2 / (1 + z.norm(dim=1) ** 2), rtol=1e-4)
    assert torch.allclose(torch.nn.functional.normalize(u, dim=1), torch.nn.functional.normalize(z, dim=1), atol=1e-5)
    assert torch.equal(squash(torch.zeros(2, 8)), torch.zeros(2, 8))


def test_routing_gives_k_distinct_interests_and_its_logits_are_not_trained():
    torch.manual_seed(0)
    r = B2IRouting(6, 8, 4, iterations=3, positions=10, dynamic=False)
    assert "routing_init" in dict(r.named_buffers()) and all("routing" not in n for n, _ in r.named_parameters())
    h, mask = torch.randn(5, 10, 6), torch.ones(5, 10, dtype=torch.bool)
    u, imask = r(h, mask)
    assert u.shape == (5, 4, 8) and imask.all() and (u.norm(dim=2) < 1).all()
    d = torch.cdist(u, u)  # [5, 4, 4] pairwise distances between a user's interests
    off = ~torch.eye(4, dtype=torch.bool)
    assert (d[:, off] > 1e-3).all()
    r.routing_init.zero_()  # control: without the random initial logits every capsule is the same
    u0, _ = r(h, mask)
    assert torch.cdist(u0, u0)[:, off].max() < 1e-5
    # padded behaviours route nothing: changing them changes no capsule
    r2 = B2IRouting(6, 8, 4, positions=10, dynamic=False)
    mask[:, :3] = False
    h2 = h.clone()
    h2[:, :3] = torch.randn(5, 3, 6)
    assert torch.allclose(r2(h, mask)[0], r2(h2, mask)[0], atol=1e-6)


def test_dynamic_interest_count():
    lens = torch.tensor([0, 1, 2, 3, 4, 7, 8, 50])
    mask = torch.arange(50)[None] >= (50 - lens)[:, None]
    assert interest_count(mask, 4).tolist() == [1, 1, 1, 1, 2, 2, 3, 4]


def test_label_aware_attention_weights_sum_to_one_over_the_users_interests():
    torch.manual_seed(0)
    v, t = torch.randn(6, 4, 8), torch.randn(6, 8)
    imask = torch.tensor([[True] * 4] * 3 + [[True, True, False, False]] * 3)
    out, a = label_aware_attention(v, t, imask, 2.0)
    assert torch.allclose(a.sum(1), torch.ones(6)) and (a[~imask] == 0).all()
    s = torch.einsum("bkd,bd->bk", v, t)
    want = torch.softmax((s ** 2).masked_fill(~imask, -float("inf")), 1)
    assert torch.allclose(a, want) and torch.allclose(out, torch.einsum("bk,bkd->bd", want, v))
    _, hard = label_aware_attention(v, t, imask, float("inf"))
    assert torch.equal(hard.argmax(1), s.masked_fill(~imask, -float("inf")).argmax(1))


def test_shapes_training_vs_evaluation():
    info = get_model_info("mind")
    assert info.task == "matching" and info.config().iterations == 3 and info.config().pow_p == 2
    with pytest.raises(ValueError, match="whole number"):
        info.config.model_validate({"pow_p": 1.5})
    schema, m = _model()
    b = with_history(random_batch(schema, 16), n_hist=8, pad=0)
    m.train()
    assert m.user_vectors(b).shape == (16, 8)  # label-aware: one vector per row
    m.eval()
    assert m.user_vectors(b).shape == (16, 3, 8)  # the K interests
    assert m.item_vectors(torch.arange(1, 40), torch.zeros(39, dtype=torch.long)).shape == (39, 8)


def test_evaluation_score_is_the_max_over_interests_and_the_index_merge_equals_it():
    schema, m = _model(dynamic_interests=False)
    m.eval()
    b = with_history(random_batch(schema, 16), n_hist=8, pad=0)
    with torch.no_grad():
        v = m.user_vectors(b)  # [16, 3, 8]
        e = m.item_vectors(torch.arange(1, 40), torch.zeros(39, dtype=torch.long))
        assert torch.cdist(v, v)[:, ~torch.eye(3, dtype=torch.bool)].min() > 1e-6  # distinct interests
        click = m(b)["click"]
    own = e[b.item_index.clamp_min(1) - 1]
    assert torch.allclose(click[b.item_index > 0], torch.einsum("bkd,bd->bk", v, own).max(1).values[b.item_index > 0])
    full = torch.einsum("bkd,nd->bkn", v, e).max(1).values.numpy()  # [16, 39] max over interests
    index = faiss.IndexFlatIP(8)
    index.add(e.numpy())
    sc, rows = search(index, v.numpy(), 10)  # each interest's top 10, merged by score
    want = np.argsort(-full, 1, kind="stable")[:, :10]
    assert np.array_equal(rows, want) and np.allclose(sc, np.take_along_axis(full, want, 1), atol=1e-5)


def test_masked_interests_retrieve_nothing_new():
    schema, m = _model()
    m.eval()
    b = with_history(random_batch(schema, 8), n_hist=8, pad=6)  # 2 behaviours: K'_u = 1
    with torch.no_grad():
        v = m.user_vectors(b)
    assert torch.allclose(v, v[:, :1].expand_as(v))


def test_short_training_lowers_the_heldout_loss():
    before, after = training_lowers_heldout_loss("mind", PARAMS, {"temperature": 1.0})
    # a history-blind two-tower (DSSM, same steps) reaches 0.85 of its initial loss on this rule
    assert after < 0.78 * before, (before, after)


def test_train_mind_end_to_end_on_the_simulated_feeds(sim_dir, tmp_path):
    out = tmp_path / "run"
    p = subprocess.run([UNISR, "train", "--model", "mind", "--data", str(sim_dir), "--out", str(out),
                        "--set", "data.scenario_kinds=[recommend]", "--set", "train.epochs=1",
                        "--set", "train.max_steps_per_epoch=2", "--set", "data.batch_size=1024",
                        "--set", "train.progress=false", "--set", "data.history_len=5", "--set", "model.dim=8",
                        "--set", "model.capsule_dim=8", "--set", "model.hidden=[16]",
                        "--set", "train.matching.index.kind=hnsw"],  # the oracles on: they read the queries too
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    m = json.loads((out / "metrics.json").read_text())
    assert m["model"] == "mind" and m["scenarios"]
    for block in m["scenarios"].values():
        assert 0.0 <= block["hr@20"] <= block["hr@200"] <= 1.0 and 0.0 <= block["ndcg@20"] <= 1.0
    assert 0.0 <= m["ann"]["overall"]["index_recall@20"] <= 1.0 and "popularity" in m["baselines"]
    assert len(m["baselines"]) > 1, m["baselines"].keys()  # simulated data: the oracle rows beside popularity
    ev = json.loads(subprocess.run([UNISR, "evaluate", "--run", str(out)], capture_output=True, text=True,
                                   timeout=300).stdout)
    assert ev["overall"]["hr@20"] == pytest.approx(m["overall"]["hr@20"], abs=1e-6)
