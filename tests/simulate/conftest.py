"""One tiny simulated dataset per test session (built into a session temp folder)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from unisr.simulate import simulate
from unisr.simulate.checks import load


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim") / "tiny"
    simulate("tiny", out, seed=0)
    return out


@pytest.fixture(scope="session")
def tiny_events(tiny_dir: Path) -> pl.DataFrame:
    """Events joined with truth."""
    return load(tiny_dir)
