"""A small synthetic canonical dataset with learnable multi-scenario signal, for fast tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from unisr.data.schema import DatasetSpec


def make_dataset(root: Path, *, n_events: int = 6000, n_users: int = 200, n_items: int = 150,
                 n_scenarios: int = 3, seed: int = 0, row_group_size: int = 1000,
                 split: dict | None = None) -> Path:
    """Events whose click probability depends on user x item affinity and a scenario-specific shift."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    uf = rng.normal(size=(n_users, 4))
    itf = rng.normal(size=(n_items, 4))
    scen_w = rng.normal(size=(n_scenarios, 4))
    u = rng.integers(0, n_users, n_events)
    i = rng.integers(0, n_items, n_events)
    s = rng.choice(n_scenarios, n_events, p=np.linspace(2, 1, n_scenarios) / np.linspace(2, 1, n_scenarios).sum())
    cat = rng.integers(0, 7, n_items)
    cat_eff = np.linspace(-2, 2, 7)
    logit = (uf[u] * itf[i]).sum(1) * 0.5 + (scen_w[s] * itf[i]).sum(1) * 0.5 + cat_eff[cat[i]] * (1 - 0.5 * s)
    p = 1 / (1 + np.exp(-logit))
    click = (rng.random(n_events) < p).astype(np.int8)
    conv = (click & (rng.random(n_events) < 0.3)).astype(np.int8)
    ts = 1_700_000_000 + np.sort(rng.integers(0, 24 * 86400, n_events))
    events = pa.table({
        "event_id": pa.array(np.arange(n_events, dtype=np.int64)),
        "ts": pa.array(ts.astype(np.int64)),
        "user_id": pa.array((u + 1000).astype(np.int64)),
        "scenario_id": pa.array((s + 10).astype(np.int16)),
        "item_id": pa.array((i + 5000).astype(np.int64)),
        "click": pa.array(click),
        "conversion": pa.array(conv),
        "request_id": pa.array((np.arange(n_events) // 5).astype(np.int64)),
    })
    pq.write_table(events, root / "events.parquet", row_group_size=row_group_size)
    pq.write_table(pa.table({
        "event_id": pa.array(np.arange(n_events, dtype=np.int64)),
        "p_click": pa.array(p.astype(np.float32)),
    }), root / "truth.parquet")
    pq.write_table(pa.table({
        "user_id": pa.array((np.arange(n_users) + 1000).astype(np.int64)),
        "gender": pa.array(np.where(rng.random(n_users) < 0.5, "F", "M")),
        "age": pa.array(rng.integers(18, 60, n_users).astype(np.float64)),
    }), root / "users.parquet")
    pq.write_table(pa.table({
        "item_id": pa.array((np.arange(n_items) + 5000).astype(np.int64)),
        "category": pa.array(cat.astype(np.int32)),
    }), root / "items.parquet")
    DatasetSpec.model_validate({
        "name": "synth",
        "scenarios": [{"id": 10 + k, "name": f"scen{k}", "kind": "recommend"} for k in range(n_scenarios)],
        "labels": ["click", "conversion"],
        "split": split or {"kind": "random", "ratios": [0.7, 0.15, 0.15], "seed": 1},
    }).save(root)
    return root


def tiny_schema(n_scenarios: int = 3):
    from unisr.data.features import FeatureSchema, SparseField

    return FeatureSchema(
        sparse=[SparseField("user_id", "users", 50, 8), SparseField("item_id", "items", 40, 8),
                SparseField("item.category", "items", 6, 8)],
        dense=["user.age"], sequences=[], scenarios=[f"s{k}" for k in range(n_scenarios)],
        scenario_kinds=["recommend"] * n_scenarios, num_users=49, num_items=39,
    )


def random_batch(schema, n: int = 64, seed: int = 0, scenarios=None):
    import torch

    from unisr.data.batch import Batch

    g = torch.Generator().manual_seed(seed)
    sparse = torch.stack([torch.randint(0, f.vocab_size, (n,), generator=g) for f in schema.sparse], 1)
    scen = torch.randint(0, schema.num_scenarios, (n,), generator=g) if scenarios is None else scenarios
    return Batch(
        scenario_id=scen, sparse=sparse, dense=torch.rand(n, len(schema.dense), generator=g),
        labels={"click": torch.randint(0, 2, (n,), generator=g).float(),
                "conversion": torch.randint(0, 2, (n,), generator=g).float()},
        user_index=sparse[:, 0], item_index=sparse[:, 1], event_id=torch.arange(n),
    )


def check_ranker(model, schema, specific_params: list[str]):
    """Shapes, finite gradients reaching every parameter, routing: samples of scenario 0 only give
    gradients to scenario 0's parameters among ``specific_params`` (names with ``{s}`` for the scenario)."""
    import torch

    batch = random_batch(schema, 64)
    out = model(batch)
    assert out["click"].shape == (64,)
    assert torch.isfinite(out["click"]).all()
    torch.nn.functional.binary_cross_entropy_with_logits(out["click"], batch.labels["click"]).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, f"no gradient reaches {name}"
        g = p.grad.to_dense() if p.grad.is_sparse else p.grad
        assert torch.isfinite(g).all(), name
    model.zero_grad(set_to_none=True)
    only0 = random_batch(schema, 32, seed=1, scenarios=torch.zeros(32, dtype=torch.long))
    model(only0)["click"].sum().backward()
    params = dict(model.named_parameters())
    for pattern in specific_params:
        for s in range(1, schema.num_scenarios):
            p = params[pattern.format(s=s)]
            assert p.grad is None or float(p.grad.abs().sum()) == 0.0, f"{pattern.format(s=s)} got a gradient"
        p0 = params[pattern.format(s=0)]
        assert p0.grad is not None and float(p0.grad.abs().sum()) > 0, pattern.format(s=0)
    model.eval()
    with torch.no_grad():
        single = model(random_batch(schema, 1, seed=3))["click"]
    assert single.shape == (1,)


def check_routing_matches_single_scenario_batches(model, schema, n: int = 40, atol: float = 1e-5):
    """Routing by scenario is exact: each scenario's rows of a mixed batch score as they do in a batch of that
    scenario alone (evaluation mode)."""
    import torch

    model.eval()
    b = random_batch(schema, n)
    with torch.no_grad():
        full = model(b)["click"]
        for s in range(schema.num_scenarios):
            idx = (b.scenario_id == s).nonzero().squeeze(1)
            assert torch.allclose(model(b.select(idx))["click"], full[idx], atol=atol), f"scenario {s}"
    return b, full


def load_benchmark(script: str, name: str | None = None):
    """The module of ``benchmarks/<script>.py`` (imported by path: the benchmarks are scripts, not a package;
    the folder goes on sys.path, for their neighbour ``machine.py``), registered as ``name`` (dataclasses look
    their module up by name)."""
    import importlib.util
    import sys

    folder = Path(__file__).resolve().parents[1] / "benchmarks"
    sys.path.insert(0, str(folder))
    name = name or f"{script}_bench"
    spec = importlib.util.spec_from_file_location(name, folder / f"{script}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def check_learns_scenario_rule(model, schema, *, steps: int = 200, lr: float = 1e-2, min_auc: float = 0.9,
                               task: str = "click") -> float:
    """Trains ``model`` on a rule no scenario-blind model fits (click iff the item index is even, flipped in
    scenario 1: the best scenario-blind AUC is 2/3 with 3 scenarios) and asserts held-out AUC >= ``min_auc``."""
    import torch

    def rule_batch(seed: int, n: int = 256):
        b = random_batch(schema, n, seed=seed)
        b.labels[task] = ((b.item_index % 2 == 0) ^ (b.scenario_id == 1)).float()
        return b

    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for step in range(steps):
        b = rule_batch(100 + step)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(b)[task], b.labels[task])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    test = rule_batch(7, 1024)
    with torch.no_grad():
        score = model(test)[task]
    y = test.labels[task].bool()
    pos, neg = score[y], score[~y]
    auc = float(((pos[:, None] > neg[None, :]).float() + 0.5 * (pos[:, None] == neg[None, :]).float()).mean())
    assert auc >= min_auc, f"held-out AUC {auc:.3f} < {min_auc} on the scenario rule"
    return auc
