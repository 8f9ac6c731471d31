"""BPR (models/bpr.py): the registry entry with RecBole's pairwise defaults, shapes, and learning on a toy."""

import numpy as np
import torch

from synth import random_batch, tiny_schema
from unisr.models.registry import build_model, get_model_info
from unisr.pipeline.config import resolve_config
from unisr.train.matching import MatchingObjective


def test_registry_and_recbole_defaults():
    info = get_model_info("bpr")
    assert info.task == "matching" and "Rendle" in info.paper
    cfg = resolve_config("bpr")
    m = cfg.train.matching
    assert (m.loss, m.negatives, m.num_negatives, m.logq, m.temperature) == ("bpr", "per_row", 1, False, 1.0)
    assert cfg.train.lr == 0.001 and cfg.data.batch_size == 4096 and cfg.train.monitor == "mrr@10"


def test_shapes_and_scores_are_inner_products():
    schema = tiny_schema()
    model = build_model("bpr", {"dim": 8}, schema)
    batch = random_batch(schema, 16)
    u = model.user_vectors(batch)
    v = model.item_vectors(batch.item_index, batch.scenario_id)
    assert u.shape == (16, 8) and v.shape == (16, 8)
    assert torch.allclose(model(batch)["click"], (u * v).sum(1))
    # the scenario changes nothing (one vector per user / item)
    assert torch.equal(model.item_vectors(batch.item_index, (batch.scenario_id + 1) % 3), v)
    assert model.user.weight.shape == (schema.num_users + 1, 8) and model.item.weight.shape == (40, 8)


def test_bpr_learns_a_toy_preference():
    """Users 1..10 like items 1..5, users 11..20 items 6..10: after training, each group ranks its own items
    above the other group's."""
    schema = tiny_schema(1)
    torch.manual_seed(0)
    model = build_model("bpr", {"dim": 8}, schema)
    cfg = resolve_config("bpr").train.matching
    users = torch.arange(1, 21).repeat_interleave(5)
    items = torch.where(users <= 10, 1, 6) + torch.arange(5).repeat(20)
    obj = MatchingObjective(model, cfg, np.ones(40), seed=0)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    batch = random_batch(schema, len(users))
    batch.user_index, batch.item_index, batch.labels["click"] = users, items, torch.ones(len(users))
    for _ in range(150):
        opt.zero_grad()
        loss, _ = obj(batch)
        loss.backward()
        opt.step()
    with torch.no_grad():
        s = model.user.weight[1:21] @ model.item.weight[1:11].T  # [20 users, 10 items]
    own = torch.cat([s[:10, :5], s[10:, 5:]]).mean()
    other = torch.cat([s[:10, 5:], s[10:, :5]]).mean()
    assert own > other + 1.0, (own, other)
