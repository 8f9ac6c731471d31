"""Tiny behaviour-sequence data for the sequence matching baselines (BST, MIND, STAR-M): a fake encoder for
``attach_items``, a history attached to a batch, and a learnable rule (the target comes from the same item group
as the user's history) with a short training run that must lower a held-out loss."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch

from synth import random_batch, tiny_schema

GROUPS = 4  # item e belongs to group e % GROUPS (items 1..39 of tiny_schema)


def fake_encoder(schema):
    """The encoder's item matrices ``attach_items`` reads: item_id, item.category (= the group); no dense field."""
    n = schema.num_items + 1
    ids = np.arange(n)
    return SimpleNamespace(item_cat=np.stack([ids % 40, ids % GROUPS], 1), item_dense=np.zeros((n, 0), np.float32))


def with_history(batch, n_hist: int = 6, seed: int = 1, pad: int = 2):
    """A right-aligned history of ``n_hist`` slots, the first ``pad`` of them padding."""
    g = torch.Generator().manual_seed(seed)
    b = len(batch)
    ids = torch.randint(1, 40, (b, n_hist), generator=g)
    mask = torch.ones(b, n_hist, dtype=torch.bool)
    mask[:, :pad] = False
    ids[~mask] = 0
    batch.sequences = {"history": (ids, mask), "history_scenario": (torch.zeros_like(ids), mask)}
    return batch


def group_batch(schema, n: int, seed: int, n_hist: int = 8):
    """Every row clicked; its history holds items of one group and its target another item of that group."""
    g = torch.Generator().manual_seed(seed)
    b = random_batch(schema, n, seed=seed)
    grp = torch.randint(0, GROUPS, (n,), generator=g)
    per_group = (schema.num_items - grp) // GROUPS  # items e = grp + GROUPS * j, 1 <= e <= num_items
    j = lambda k: (torch.rand(n, k, generator=g) * per_group[:, None]).long()  # noqa: E731
    hist = grp[:, None] + GROUPS * (j(n_hist) + (grp[:, None] == 0).long())
    target = grp + GROUPS * (j(1)[:, 0] + (grp == 0).long())
    b.item_index = target
    b.sparse[:, 1] = target
    b.labels["click"] = torch.ones(n)
    mask = torch.ones(n, n_hist, dtype=torch.bool)
    b.sequences = {"history": (hist, mask), "history_scenario": (torch.zeros_like(hist), mask)}
    return b


def training_lowers_heldout_loss(name: str, params: dict, matching: dict | None = None, steps: int = 150,
                                 lr: float = 5e-3) -> tuple[float, float]:
    """(held-out loss before, after) ``steps`` Adam steps of ``MatchingObjective`` on fresh ``group_batch``es."""
    from unisr.models.registry import build_model
    from unisr.pipeline.config import MatchingConfig
    from unisr.train.matching import MatchingObjective

    torch.manual_seed(0)
    schema = tiny_schema()
    model = build_model(name, params, schema)
    model.attach_items(fake_encoder(schema))
    obj = MatchingObjective(model, MatchingConfig(logq=False, **(matching or {})), np.ones(schema.num_items + 1))
    held = group_batch(schema, 128, seed=999)

    def heldout() -> float:
        model.train()  # the training loss (MIND: label-aware); dropout off for a deterministic measurement
        drops = [m for m in model.modules() if isinstance(m, torch.nn.Dropout)]
        for m in drops:
            m.eval()
        with torch.no_grad():
            return float(obj(held)[0])

    before = heldout()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for step in range(steps):
        loss, _ = obj(group_batch(schema, 64, seed=step))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return before, heldout()
