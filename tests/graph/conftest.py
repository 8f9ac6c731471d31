"""Fixtures: the graph of the simulator's tiny dataset (``sim_dir``, tests/conftest.py), built once per session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from unisr.graph.build import build_graph
from unisr.graph.csr import CSR
from unisr.graph.store import HeteroGraph


@pytest.fixture(scope="session")
def graph(sim_dir: Path) -> HeteroGraph:
    return build_graph(sim_dir)


def edge_rows(csr: CSR, eid: np.ndarray) -> np.ndarray:
    """Source row of each edge id."""
    return np.searchsorted(np.asarray(csr.indptr), eid, side="right") - 1
