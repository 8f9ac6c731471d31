"""Data-parallel training with real ``torchrun`` processes (gloo on CPU): the rank shards, the exact gathers,
2 ranks against 1 process, a killed rank and ``--resume``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from unisr.data.loader import shard_row_groups
from unisr.evaluate.metrics import ScenarioMetrics

UNISR = [sys.executable, "-m", "unisr.cli.main"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
QUIET = ["--set", "train.progress=false"]


def _train(data: Path, out: Path, *extra: str, nproc: int = 1, check: bool = True) -> subprocess.CompletedProcess:
    cmd = [*UNISR, "train", "--model", "dnn", "--data", str(data), "--out", str(out), *QUIET, *extra]
    if nproc > 1:
        cmd += ["--nproc", str(nproc)]
    res = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=300)
    if check:
        assert res.returncode == 0, res.stderr[-3000:]
    return res


def _metrics(out: Path) -> dict:
    return json.loads((out / "metrics.json").read_text())


# ------------------------------------------------------------------------------------------ in-process parts
def test_shard_row_groups_partitions_and_balances() -> None:
    rng = np.random.default_rng(0)
    sizes = rng.integers(1, 1000, 57)
    order = rng.permutation(57)
    parts = [shard_row_groups(sizes, order, r, 3) for r in range(3)]
    assert sorted(np.concatenate(parts).tolist()) == list(range(57))  # each group read by exactly one rank
    for p in parts:  # in the epoch's order
        pos = {g: k for k, g in enumerate(order)}
        assert [pos[g] for g in p] == sorted(pos[g] for g in p)
    loads = [int(sizes[p].sum()) for p in parts]
    assert max(loads) - min(loads) <= sizes.max()
    assert shard_row_groups(sizes, order, 0, 1).tolist() == order.tolist()


def test_loader_shards_are_disjoint_and_cover_the_split(sim_dir: Path) -> None:
    from unisr.data.features import FeatureEncoder
    from unisr.data.loader import DatasetContext, EventLoader, LoaderConfig
    from unisr.data.schema import DatasetSpec

    ctx = DatasetContext.open(sim_dir, FeatureEncoder.fit(sim_dir, DatasetSpec.load(sim_dir)))
    cfg = LoaderConfig(batch_size=512)

    def ids(shard: tuple[int, int], train: bool) -> np.ndarray:
        loader = EventLoader(ctx, "train", cfg, train=train, seed=3, shard=shard)
        return np.concatenate([b.event_id.numpy() for b in loader.epoch(1)])

    for train in (True, False):
        whole = ids((0, 1), train)
        a, b = ids((0, 2), train), ids((1, 2), train)
        assert len(np.intersect1d(a, b)) == 0
        assert sorted(np.concatenate([a, b]).tolist()) == sorted(whole.tolist())
        assert abs(len(a) - len(b)) <= 1  # one row group here: sharded by rows


def test_metrics_merge_equals_one_pass() -> None:
    rng = np.random.default_rng(1)
    n = 400
    cols = dict(scenario=rng.integers(0, 2, n), label=(rng.random(n) < 0.3).astype(np.float32),
                prob=rng.random(n), user=rng.integers(0, 30, n), request=rng.integers(0, 40, n))
    whole = ScenarioMetrics(["a", "b"])
    whole.update(**cols)
    ranks = []
    for r in range(2):
        m = ScenarioMetrics(["a", "b"])
        m.update(**{k: v[r::2] for k, v in cols.items()})
        ranks.append(m)
    ranks[0].merge([m.parts for m in ranks])
    got, want = ranks[0].compute(), whole.compute()
    assert got["overall"]["auc"] == pytest.approx(want["overall"]["auc"], abs=1e-12)
    assert got["overall"]["gauc"] == pytest.approx(want["overall"]["gauc"], abs=1e-12)
    assert got["overall"]["mrr"] == pytest.approx(want["overall"]["mrr"], abs=1e-12)
    assert got["scenarios"]["b"]["n"] == want["scenarios"]["b"]["n"]


# ------------------------------------------------------------------------------------------ real torchrun
def test_two_ranks_match_one_process(sim_dir: Path, tmp_path: Path) -> None:
    """``data.shard=batch``: each rank trains on its half of the same global batch, so 2 ranks make the same
    updates as one process (up to the order of float sums); ``rows`` (the default) streams disjoint shards."""
    same = ["--set", "train.epochs=2", "--set", "data.batch_size=1024", "--set", "data.drop_last=true"]
    one = tmp_path / "one"
    _train(sim_dir, one, *same, "--set", "data.shard=batch")
    two = tmp_path / "two"
    _train(sim_dir, two, *same, "--set", "data.shard=batch", nproc=2)
    m1, m2 = _metrics(one), _metrics(two)
    assert m2["world_size"] == 2 and m1["world_size"] == 1
    assert m2["overall"]["n"] == m1["overall"]["n"]  # the gathered test split is the whole split
    for k in ("auc", "logloss"):
        assert m2["overall"][k] == pytest.approx(m1["overall"][k], abs=1e-4), k
    for s, block in m1["scenarios"].items():
        assert m2["scenarios"][s]["n"] == block["n"]
    # the default sharding: disjoint streams, the same global batch (512 per rank): close, not identical
    rows = tmp_path / "rows"
    _train(sim_dir, rows, "--set", "train.epochs=2", "--set", "data.batch_size=512", nproc=2)
    m3 = _metrics(rows)
    assert m3["overall"]["n"] == m1["overall"]["n"]
    assert abs(m3["overall"]["logloss"] - m1["overall"]["logloss"]) < 0.02
    log = [json.loads(line) for line in (rows / "train_log.jsonl").read_text().splitlines()]
    assert len(log) == 2  # rank 0 alone logs
    train_rows = log[0]["train_samples"]
    log1 = [json.loads(line) for line in (one / "train_log.jsonl").read_text().splitlines()]
    assert train_rows >= log1[0]["train_samples"]  # every training row seen once per epoch (one drops its tail)


def _descendants(pid: int) -> list[int]:
    kids: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int(next(ln for ln in (d / "status").read_text().splitlines()
                                if ln.startswith("PPid:")).split()[1])
            except (OSError, StopIteration, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for c in kids.get(p, []):
            out.append(c)
            todo.append(c)
    return out


def _is_rank(pid: int) -> bool:
    try:
        env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False
    return any(e.startswith(b"LOCAL_RANK=") for e in env)


def test_killed_rank_fails_the_job_and_resume_finishes_it(sim_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    cfg = ["--set", "train.epochs=6", "--set", "train.patience=100", "--set", "data.batch_size=256"]
    cmd = [*UNISR, "train", "--model", "dnn", "--data", str(sim_dir), "--out", str(out), *QUIET, *cfg,
           "--nproc", "2"]
    job = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    log = out / "train_log.jsonl"
    deadline = time.time() + 240
    while time.time() < deadline and job.poll() is None:
        if log.exists() and log.read_text().count("\n") >= 1 and (out / "checkpoints" / "last.pt").exists():
            break
        time.sleep(0.2)
    assert job.poll() is None, "the job ended before a rank could be killed"
    ranks = [p for p in _descendants(job.pid) if _is_rank(p)]
    assert len(ranks) == 2, ranks
    os.kill(ranks[-1], signal.SIGKILL)
    _, err = job.communicate(timeout=240)
    assert job.returncode == 1
    assert "the data-parallel job failed" in err and "--resume" in err
    assert not (out / "metrics.json").exists()
    done_before = log.read_text().count("\n")
    assert done_before < 6
    # resumed on another world size: one process continues the 2-rank checkpoint
    _train(sim_dir, out, *cfg, "--resume")
    m = _metrics(out)
    assert m["overall"]["n"] > 0 and m["world_size"] == 1
    epochs = [json.loads(line)["epoch"] for line in log.read_text().splitlines()]
    assert epochs[-1] == 5 and len(epochs) >= 6


def test_matching_models_refuse_torchrun(sim_dir: Path, tmp_path: Path) -> None:
    res = subprocess.run([*UNISR, "train", "--model", "dssm", "--data", str(sim_dir), "--out", str(tmp_path / "m"),
                          *QUIET, "--nproc", "2"], capture_output=True, text=True, env=ENV, timeout=300)
    assert res.returncode == 2
    assert "matching models train in one process" in res.stderr


def test_graph_samplers_are_seeded_per_rank(sim_dir: Path) -> None:
    from unisr.data.features import FeatureEncoder
    from unisr.data.loader import DatasetContext
    from unisr.data.schema import DatasetSpec
    from unisr.pipeline.config import resolve_config
    from unisr.pipeline.pipeline import RANK_SEED_STRIDE, Pipeline

    class Recorder:
        def __init__(self) -> None:
            self.seeds: list[int] = []

        def reset(self, seed: int) -> None:
            self.seeds.append(seed)

        def __call__(self, batch):  # noqa: ANN001, ANN204
            return batch

    ctx = DatasetContext.open(sim_dir, FeatureEncoder.fit(sim_dir, DatasetSpec.load(sim_dir)))
    cfg = resolve_config("dnn", sets=["data.batch_size=4096"])
    seeds = []
    for rank in (0, 1):
        rec = Recorder()
        pipe = Pipeline(cfg, ctx, rec, shard=(rank, 2))
        next(iter(pipe.batches("train", 3, train=True)))
        next(iter(pipe.batches("valid")))
        seeds.append(rec.seeds)
    assert [b - a for a, b in zip(seeds[0], seeds[1], strict=True)] == [RANK_SEED_STRIDE] * 2
