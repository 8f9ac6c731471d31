"""The graph a matching model samples from itself (a model with ``attach_graph`` and ``graph_config()``:
BOMGraph), cached beside the dataset's shared graph as ``GRAPH_DIR/<model>-se<threshold>``, or
``GRAPH_DIR/<model>-se<threshold>-<a>+<b>`` when its CE / OE edges come from the scenarios a, b only
(``GraphConfig.behaviour_scenarios``, BOMGraph-SK / -SV), so no two variants share a folder. One place for its
folder, its build-or-load (training, ``unisr evaluate``: ``train/matching.py:attach_run_graph``) and its
load-only path (serving a bundle, which must never write into the bundle: ``serve/runtime.py``).

GRAPH_DIR is ``data.graph_dir`` when set (a bundle's ``<role>/graph``), else ``<dataset>/graph``.

Shapes:
    (no tensors) graph_folder_name(model, gcfg) -> str; model_graph_dir(net, cfg, root) -> Path;
    load_model_graph(...) -> HeteroGraph
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from torch import nn


def graph_folder_name(model: str, gcfg) -> str:  # noqa: ANN001
    """``<model>-se<threshold>``, plus ``-ce<kind>+<kind>`` for ``ce_query_kinds`` and ``-<a>+<b>`` (sorted
    scenario names) for a ``behaviour_scenarios`` subset; characters other than letters, digits, ``_ . -`` in a
    name become ``_`` (the folder stays one path component; the graph's fingerprint still tells two such
    subsets apart)."""

    def part(names) -> str:  # noqa: ANN001
        return "+".join(re.sub(r"[^A-Za-z0-9_.-]", "_", s) for s in sorted(names))

    name = f"{model}-se{gcfg.se_threshold:g}"
    kinds = getattr(gcfg, "ce_query_kinds", None)
    if kinds is not None:
        name += f"-ce{part(kinds)}"
    subset = getattr(gcfg, "behaviour_scenarios", None)
    if subset is not None:
        name += f"-{part(subset)}"
    return name


def model_graph_dir(net: nn.Module, cfg, root: str | Path | None = None) -> Path:  # noqa: ANN001
    """``GRAPH_DIR/<graph_folder_name>`` of the model's ``graph_config()`` (``root`` default: the run's
    ``data_path``)."""
    gcfg = net.graph_config()
    base = Path(cfg.data.graph_dir) if cfg.data.graph_dir else Path(root or cfg.data_path) / "graph"
    return base / graph_folder_name(cfg.model_name, gcfg)


def load_model_graph(net: nn.Module, cfg, root: str | Path):  # noqa: ANN001, ANN201
    """The model's graph as cached for the dataset ``root``, never built: a missing folder, or one built from
    other data files or another config (the graph cache's fingerprint), is a ``RunFolderError`` naming it."""
    from unisr.graph.build import fingerprint
    from unisr.graph.store import MANIFEST, HeteroGraph
    from unisr.pipeline.run_folder import RunFolderError

    path = model_graph_dir(net, cfg, root)
    try:
        man = json.loads((path / MANIFEST).read_text())
    except (OSError, ValueError) as e:
        raise RunFolderError(f"{path / MANIFEST}: the graph of {cfg.model_name} is missing or unreadable ({e})"
                             ) from None
    if man.get("meta", {}).get("fingerprint") != fingerprint(Path(root), net.graph_config()):
        raise RunFolderError(f"{path / MANIFEST}: built from other data files or another graph config than "
                             f"{root} (fingerprint differs)")
    return HeteroGraph.load(path)


def attach_model_graph(net: nn.Module, cfg, pipe, *, root: str | Path | None = None,  # noqa: ANN001
                       build: bool = True) -> None:
    """``net.attach_graph(graph, pipe.ctx.queries)`` with the graph of the model's ``graph_config()`` for the
    dataset ``root`` (default: the run's ``data_path``): built and cached when missing or stale (``build``), or
    only loaded (``build=False``, ``load_model_graph``). A model without ``attach_graph`` is left alone."""
    if not hasattr(net, "attach_graph"):
        return
    from unisr.graph.build import build_or_load

    if build:
        graph, _ = build_or_load(root or cfg.data_path, model_graph_dir(net, cfg, root), net.graph_config())
    else:
        graph = load_model_graph(net, cfg, root or cfg.data_path)
    net.attach_graph(graph, pipe.ctx.queries)
