"""Graphs built from the logs (training window only) and the papers' neighbour samplers."""

from unisr.graph.build import GraphConfig, build_graph, build_or_load
from unisr.graph.csr import CSR, from_coo
from unisr.graph.store import HeteroGraph

__all__ = ["CSR", "GraphConfig", "HeteroGraph", "build_graph", "build_or_load", "from_coo"]
