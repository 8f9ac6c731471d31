"""Fixtures: the simulator's tiny dataset (shrunk) and its graph, built once per test session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from unisr.graph.build import build_graph
from unisr.graph.csr import CSR
from unisr.graph.store import HeteroGraph


@pytest.fixture(scope="session")
def sim_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from unisr.simulate.api import resolve_config, simulate_config

    out = tmp_path_factory.mktemp("sim_tiny")
    simulate_config(resolve_config("tiny", ["n_events=40000"]), out, 0, "tiny", None, None)
    return out


@pytest.fixture(scope="session")
def graph(sim_dir: Path) -> HeteroGraph:
    return build_graph(sim_dir)


def edge_rows(csr: CSR, eid: np.ndarray) -> np.ndarray:
    """Source row of each edge id."""
    return np.searchsorted(np.asarray(csr.indptr), eid, side="right") - 1
