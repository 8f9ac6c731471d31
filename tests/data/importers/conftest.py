"""Fixtures of the importer tests: the ``unisr`` console script as a subprocess, the real samples in
``../shared/data`` (skipped with a reason where absent), and the import-then-validate round trip."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest

UNISR = str(Path(sys.executable).parent / "unisr")
SHARED_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"


def run_unisr(*args: str | Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "1000"}  # rich wraps long messages (paths) at the terminal width
    return subprocess.run([UNISR, *map(str, args)], capture_output=True, text=True, timeout=120, env=env)


@pytest.fixture
def shared() -> Callable[[str], Path]:
    """``shared("douban")`` -> the sample folder, or skip naming what is absent."""

    def get(name: str) -> Path:
        path = SHARED_DATA / name
        if not path.is_dir():
            pytest.skip(f"../shared/data/{name} absent")
        return path

    return get


@pytest.fixture
def import_validate(tmp_path: Path) -> Callable[..., tuple[Path, str]]:
    """``import_validate(fmt, src, *extra)``: ``unisr data import`` then ``unisr data validate``, both exit 0;
    returns the output folder and the import's printed counts."""

    def run(fmt: str, src: Path, *extra: str) -> tuple[Path, str]:
        out = tmp_path / f"out-{fmt}"
        imp = run_unisr("data", "import", fmt, "--src", src, "--out", out, *extra)
        assert imp.returncode == 0, imp.stdout + imp.stderr
        val = run_unisr("data", "validate", out)
        assert val.returncode == 0, val.stdout + val.stderr
        return out, imp.stdout

    return run


def rejected_reasons(out: Path) -> dict[str, int]:
    """reason -> rows in ``out/rejected.parquet`` (empty when the file is absent)."""
    path = out / "rejected.parquet"
    if not path.exists():
        return {}
    counts: dict[str, int] = {}
    for r in pq.read_table(path, columns=["reason"])["reason"].to_pylist():
        counts[r] = counts.get(r, 0) + 1
    return counts


@pytest.fixture
def reasons() -> Callable[[Path], dict[str, int]]:
    return rejected_reasons


@pytest.fixture
def table() -> Callable[[Path, str], list[dict]]:
    return lambda out, name: pq.read_table(out / f"{name}.parquet").to_pylist()


@pytest.fixture
def unisr() -> Callable[..., subprocess.CompletedProcess]:
    """``unisr("data", "validate", DIR)``: the console script as a subprocess (output captured)."""
    return run_unisr


@pytest.fixture
def import_fails(tmp_path: Path) -> Callable[..., str]:
    """``import_fails(fmt, src, text, *extra)``: ``unisr data import`` exits 2 with ``text`` in its message."""

    def run(fmt: str, src: Path, text: str, *extra: str) -> str:
        r = run_unisr("data", "import", fmt, "--src", src, "--out", tmp_path / f"failed-{fmt}", *extra)
        assert r.returncode == 2 and text in r.stderr + r.stdout, r.stdout + r.stderr
        return r.stderr

    return run
