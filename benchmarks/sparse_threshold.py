"""Dense vs sparse embedding gradients: training samples/s against the total embedding-table size, for DNN and NFM.

    .venv/bin/python benchmarks/sparse_threshold.py [--rows 10000 30000 ...] [--threads 1] [--reps 5]

Chooses ``nn/embedding.py:SPARSE_AUTO_ROWS``, the one automatic rule of every model (``sparse_gradients``):
below it the embedding tables get dense gradients and the dense optimizer, from it on sparse gradients and a
sparse optimizer. Each case is the training step ``unisr train`` runs (``Trainer.train_epoch``'s body):
``Objective`` (BCE) forward + backward + ``OptimizerSet.step`` with ``train.optimizer=adam``, so a model built
with ``sparse_grad=True`` gets SparseAdam on its tables and Adam on the rest, one built with
``sparse_grad=False`` Adam on everything. Only the step is timed; the data loader's cost per sample is the same
in both modes (it moves the level of samples/s, not which mode is faster).

Data: the feature layout of the recorded simulation (``unisr simulate --preset small``, /tmp/sim_small): ten
categorical fields (user, item, target user and trigger item ids, whose vocabularies are scaled so that the
schema holds ``--rows`` embedding rows in all, plus six small attribute fields of the small preset's sizes)
and three item/query token sequences (category path 551 x 3, title 3,276 x 16, query 3,252 x 4), embedding
size 16, 8 scenarios, batch 1024. Ids are drawn with a power-law popularity (``id = V * u^skew``, ``u``
uniform; the simulator's popularity is also heavy-tailed), random synthetic labels; batches are made once
(tensors in the canonical ``Batch`` layout) and reused, so only the model step is measured. Rounds interleave
the dense and sparse case of one (model, size) (the order alternates); the report gives medians over rounds.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import torch
from torch import Tensor

from machine import cpu_model
from unisr.data.batch import Batch
from unisr.data.features import FeatureSchema, SequenceField, SparseField
from unisr.models.registry import build_model
from unisr.nn.embedding import SPARSE_AUTO_ROWS, embedding_rows
from unisr.pipeline.config import TrainConfig
from unisr.train.objective import Objective
from unisr.train.optim import OptimizerSet

DIM = 16
# the small preset's fields: (name, table, vocabulary size); ids scale with --rows, attributes are fixed
ID_FIELDS = [("user_id", "users", 50_001), ("item_id", "items", 60_001), ("target_user_id", "events", 50_001),
             ("trigger_item_id", "events", 60_001)]
ATTR_FIELDS = [("user.gender", "users", 3), ("user.age_level", "users", 8), ("user.purchasing_power", "users", 6),
               ("item.brand", "items", 721), ("item.shop", "items", 1_674), ("item.price_level", "items", 6)]
SEQUENCES = [("item.category_path", "items", 551, 3), ("item.title_tokens", "items", 3_276, 16),
             ("query_tokens", "queries", 3_252, 4)]
NUM_SCENARIOS = 8
SIM_SMALL_ROWS = 229_501  # embedding_rows of the schema FeatureEncoder.fit gives on /tmp/sim_small


def schema_with_rows(rows: int) -> FeatureSchema:
    """The small preset's fields with the id vocabularies scaled so that ``embedding_rows`` is ~``rows``."""
    fixed = sum(v for _, _, v in ATTR_FIELDS) + sum(v for _, _, v, _ in SEQUENCES)
    id_total = sum(v for _, _, v in ID_FIELDS)
    scale = max(rows - fixed, 4 * 16) / id_total
    sparse = [SparseField(n, t, max(16, round(v * scale)), DIM) for n, t, v in ID_FIELDS]
    sparse += [SparseField(n, t, v, DIM) for n, t, v in ATTR_FIELDS]
    seqs = [SequenceField(n, t, v, length, DIM) for n, t, v, length in SEQUENCES]
    return FeatureSchema(sparse=sparse, dense=[], sequences=seqs, scenarios=[f"s{k}" for k in range(NUM_SCENARIOS)],
                         scenario_kinds=["search"] * 3 + ["recommend"] * (NUM_SCENARIOS - 3),
                         num_users=sparse[0].vocab_size - 1, num_items=sparse[1].vocab_size - 1)


def power_law(vocab: int, n: int, skew: float, g: torch.Generator) -> Tensor:
    """Ids 1..vocab-1 (0 = out of vocabulary), popular ids first: ``1 + floor((vocab - 1) * u^skew)``."""
    u = torch.rand(n, generator=g)
    return (1 + ((vocab - 1) * u.pow(skew)).long()).clamp(max=vocab - 1)


def make_batches(schema: FeatureSchema, batch_size: int, n: int, skew: float, seed: int) -> list[Batch]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        sparse = torch.stack([power_law(f.vocab_size, batch_size, skew, g) for f in schema.sparse], 1)
        seqs = {}
        for f in schema.sequences:
            lengths = torch.randint(0, f.max_len + 1, (batch_size, 1), generator=g)
            mask = torch.arange(f.max_len).unsqueeze(0) < lengths
            ids = power_law(f.vocab_size, batch_size * f.max_len, skew, g).view(batch_size, f.max_len) * mask
            seqs[f.name] = (ids, mask)
        out.append(Batch(scenario_id=torch.randint(0, NUM_SCENARIOS, (batch_size,), generator=g), sparse=sparse,
                         dense=torch.zeros(batch_size, 0), labels={"click": torch.randint(0, 2, (batch_size,),
                                                                                         generator=g).float()},
                         user_index=sparse[:, 0], item_index=sparse[:, 1], event_id=torch.arange(batch_size),
                         sequences=seqs))
    return out


class Case:
    """One model with dense or sparse embedding gradients and the optimizers ``OptimizerSet`` gives it."""

    def __init__(self, model: str, sparse: bool, schema: FeatureSchema, batches: list[Batch]) -> None:
        torch.manual_seed(0)
        self.net = build_model(model, {"sparse_grad": sparse}, schema)
        self.net.train()
        self.objective = Objective(self.net, {"click": 1.0})
        self.opts = OptimizerSet(self.net, TrainConfig(optimizer="adam", lr=1e-3))
        self.optimizers = {k: type(o).__name__ for k, o in self.opts.optimizers.items()}
        self.table_rows = sum(m.num_embeddings for m in self.net.modules()
                              if isinstance(m, torch.nn.Embedding | torch.nn.EmbeddingBag))
        self.batches = batches
        self.i = 0
        self.samples_per_s: list[float] = []

    def step(self) -> None:  # the body of unisr.train.trainer.Trainer.train_epoch
        b = self.batches[self.i % len(self.batches)]
        self.i += 1
        self.opts.zero_grad()
        loss, _ = self.objective(b)
        loss.backward()
        self.opts.step()
        float(loss.detach())

    def run(self, steps: int) -> None:
        t0 = time.perf_counter()
        for _ in range(steps):
            self.step()
        self.samples_per_s.append(steps * len(self.batches[0]) / (time.perf_counter() - t0))


def crossover(points: list[tuple[int, float]]) -> float | None:
    """The table size (log-interpolated) from which sparse/dense >= 1 at every larger measured size."""
    if not points or points[-1][1] < 1:
        return None
    k = len(points) - 1
    while k > 0 and points[k - 1][1] >= 1:
        k -= 1
    if k == 0:
        return float(points[0][0])
    (r0, q0), (r1, q1) = points[k - 1], points[k]
    t = (0 - math.log(q0)) / (math.log(q1) - math.log(q0))
    return math.exp(math.log(r0) + t * (math.log(r1) - math.log(r0)))


def recommend(cross: dict[str, float | None]) -> int | None:
    """One threshold for every model: the geometric mean of the models' crossovers, to one significant digit
    (it splits the slowdown between the model that would rather go sparse earlier and the one that would go
    later)."""
    xs = [c for c in cross.values() if c]
    if not xs:
        return None
    g = math.exp(sum(math.log(c) for c in xs) / len(xs))
    p = 10 ** math.floor(math.log10(g))
    return int(round(g / p) * p)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, nargs="+",
                    default=[10_000, 20_000, 35_000, 50_000, 70_000, 100_000, 150_000, SIM_SMALL_ROWS, 1_000_000,
                             3_000_000])
    ap.add_argument("--models", nargs="+", default=["dnn", "nfm"])
    ap.add_argument("--batch-size", type=int, default=1024)
    ap.add_argument("--reps", type=int, default=9, help="rounds; both modes run once per round")
    ap.add_argument("--steps", type=int, default=8, help="timed steps per case and round")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--skew", type=float, default=2.0, help="power-law exponent of the id popularity")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path,
                    default=Path(__file__).resolve().parent / "results" / "sparse_threshold.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t_start, load_start = time.time(), os.getloadavg()
    rows_out = []
    for model in args.models:
        for rows in args.rows:
            schema = schema_with_rows(rows)
            batches = make_batches(schema, args.batch_size, 4, args.skew, seed=rows)
            cases = {"dense": Case(model, False, schema, batches), "sparse": Case(model, True, schema, batches)}
            for c in cases.values():
                for _ in range(args.warmup):
                    c.step()
            for r in range(args.reps):
                for mode in (("dense", "sparse") if r % 2 == 0 else ("sparse", "dense")):
                    cases[mode].run(args.steps)
            med = {m: statistics.median(c.samples_per_s) for m, c in cases.items()}
            row = {"model": model, "schema_rows": embedding_rows(schema), "model_table_rows": cases["dense"].table_rows,
                   "dense_samples_per_s": med["dense"], "sparse_samples_per_s": med["sparse"],
                   "sparse_over_dense": med["sparse"] / med["dense"],
                   "rounds": {m: c.samples_per_s for m, c in cases.items()},
                   "optimizers": {m: c.optimizers for m, c in cases.items()}}
            rows_out.append(row)
            print(f"{model:5s} {row['schema_rows']:>10,d} rows: dense {med['dense']:9,.0f}  sparse "
                  f"{med['sparse']:9,.0f} samples/s  sparse/dense {row['sparse_over_dense']:.2f} "
                  f"({time.time() - t_start:.0f} s, load {os.getloadavg()[0]:.1f})", file=sys.stderr)
            del cases
    cross = {m: crossover([(r["schema_rows"], r["sparse_over_dense"]) for r in rows_out if r["model"] == m])
             for m in args.models}
    rec = recommend(cross)
    print(f"crossover (embedding rows from which sparse is faster): "
          f"{', '.join(f'{m} {c:,.0f}' if c else f'{m} none' for m, c in cross.items())}; one threshold: "
          f"{rec if rec is None else f'{rec:,d}'} (SPARSE_AUTO_ROWS now {SPARSE_AUTO_ROWS:,d})")
    result = {
        "benchmark": "sparse_threshold", "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": ".venv/bin/python benchmarks/sparse_threshold.py " + " ".join(sys.argv[1:]),
        "machine": {"cpu": cpu_model(), "nproc": os.cpu_count(), "threads": torch.get_num_threads(),
                    "loadavg_start": load_start, "loadavg_end": os.getloadavg(),
                    "python": platform.python_version(), "torch": torch.__version__},
        "settings": {"batch_size": args.batch_size, "reps": args.reps, "steps": args.steps, "warmup": args.warmup,
                     "skew": args.skew, "embed_dim": DIM, "optimizer": "adam (dense) / sparse_adam (sparse)"},
        "sparse_auto_rows": SPARSE_AUTO_ROWS, "crossover_rows": cross, "recommended_rows": rec, "cases": rows_out,
        "wall_seconds": time.time() - t_start,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out} ({time.time() - t_start:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
