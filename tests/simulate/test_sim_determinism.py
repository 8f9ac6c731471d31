"""Same seed -> identical files; different seeds differ; overrides, CLI and streamed parts work."""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from unisr.cli.main import app
from unisr.data.validate import validate_dataset
from unisr.simulate import OverrideError, resolve_config, simulate

SMALL = {"n_events": 15_000, "users.n_users": 600, "catalog.n_items": 800}


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_identical_files(tmp_path: Path) -> None:
    simulate("tiny", tmp_path / "a", seed=7, overrides=SMALL)
    simulate("tiny", tmp_path / "b", seed=7, overrides=SMALL)
    da, db = _digest(tmp_path / "a"), _digest(tmp_path / "b")
    assert da == db
    assert "events.parquet" in da and "truth.parquet" in da


def test_different_seeds_differ(tmp_path: Path) -> None:
    simulate("tiny", tmp_path / "a", seed=1, overrides=SMALL)
    simulate("tiny", tmp_path / "b", seed=2, overrides=SMALL)
    da, db = _digest(tmp_path / "a"), _digest(tmp_path / "b")
    for f in ("events.parquet", "items.parquet", "users.parquet", "social.parquet", "truth.parquet"):
        assert da[f] != db[f], f


def test_streamed_parts_are_valid(tmp_path: Path) -> None:
    out = tmp_path / "parts"
    s = simulate("tiny", out, seed=0, overrides={**SMALL, "chunk_users": 200})
    assert (out / "events.parquet").is_dir() and len(list((out / "events.parquet").glob("part-*.parquet"))) == 3
    assert (out / "truth.parquet").is_dir()
    ev = pl.read_parquet(out / "events.parquet" / "*.parquet")
    assert ev.height == s.n_events and ev["event_id"].is_unique().all()
    problems = validate_dataset(out)
    assert problems == [], "\n".join(map(str, problems[:20]))


def test_workers_do_not_change_the_files(tmp_path: Path) -> None:
    over = {**SMALL, "chunk_users": 200}
    simulate("tiny", tmp_path / "w1", seed=5, overrides=over, workers=1)
    simulate("tiny", tmp_path / "w2", seed=5, overrides=over, workers=2)
    assert _digest(tmp_path / "w1") == _digest(tmp_path / "w2")


def test_overrides_are_validated() -> None:
    cfg = resolve_config("tiny", ["catalog.n_items=500", "scenarios.feeds.0.traffic=0.5", "clicks.scale=1.2"])
    assert cfg.catalog.n_items == 500 and cfg.scenarios.feeds[0].traffic == 0.5 and cfg.clicks.scale == 1.2
    with pytest.raises(OverrideError, match="catalog.nope"):
        resolve_config("tiny", ["catalog.nope=1"])
    with pytest.raises(OverrideError, match="n_items"):
        resolve_config("tiny", ["catalog.n_items=many"])
    with pytest.raises(OverrideError, match="expected key=value"):
        resolve_config("tiny", ["catalog.n_items"])


def test_cli(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "cli"
    sets = [a for k, v in SMALL.items() for a in ("--set", f"{k}={v}")]
    r = runner.invoke(app, ["simulate", "--preset", "tiny", "--out", str(out), "--seed", "3", *sets])
    assert r.exit_code == 0, r.output
    assert (out / "dataset.yaml").exists() and (out / "events.parquet").exists()
    bad = runner.invoke(app, ["simulate", "--preset", "tiny", "--out", str(out), "--set", "users.bogus=1"])
    assert bad.exit_code == 2 and "users.bogus" in bad.output
    bad = runner.invoke(app, ["simulate", "--preset", "huge", "--out", str(out)])
    assert bad.exit_code == 2 and "preset" in bad.output
