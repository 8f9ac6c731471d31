"""The import graph of ``src/unisr``: no cycle, no upward arrow between layers, no model file importing another.

Every ``.py`` file is parsed with ``ast``; every ``import x`` and ``from x import y`` anywhere in it (module
level, inside functions, under ``if``) is an edge, relative imports resolved. ``from pkg import name`` is an
edge to the submodule ``pkg.name`` when there is one, else to ``pkg`` (its ``__init__``). Importing a module
also runs its packages' ``__init__`` files; those implicit edges are not drawn (a package re-exporting its
submodules would otherwise be a cycle with each of them).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import unisr

SRC = Path(unisr.__file__).parent
ROOT = SRC.parent.parent

# layer -> layers it must never import (issue 30, "the import graph has no upward arrow")
FORBIDDEN: dict[str, set[str]] = {
    **{low: {"models", "train", "bench", "cli", "serve", "pipeline"} for low in ("data", "simulate", "graph", "nn")},
    "models": {"train", "bench", "cli", "serve", "pipeline"},
    "evaluate": {"train", "bench", "cli", "serve"},
    "serve": {"train", "bench"},
    "index": {"train", "bench", "cli", "serve"},
}
# the declared interfaces of ``unisr.models``: the only modules of the package that another module of it may
# import (registration and configs, the backbone protocol, the graph models' shared configs)
MODEL_INTERFACES = {"unisr.models", "unisr.models.registry", "unisr.models.backbone", "unisr.models.graph_configs"}


@dataclass(frozen=True)
class Edge:
    src: str
    dst: str
    where: str  # path:line of the import statement

    def __str__(self) -> str:
        return f"{self.src} -> {self.dst}  ({self.where})"


def module_of(path: Path, src: Path = SRC) -> str:
    rel = path.relative_to(src.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(src: Path = SRC) -> dict[str, Path]:
    return {module_of(p, src): p for p in sorted(src.rglob("*.py"))}


def resolve(name: str, known: Iterable[str]) -> str | None:
    """The longest known module that ``name`` is or lies in (``unisr.a.b.Thing`` -> ``unisr.a.b``)."""
    known = set(known)
    parts = name.split(".")
    for k in range(len(parts), 0, -1):
        cand = ".".join(parts[:k])
        if cand in known:
            return cand
    return None


def imports_of(mod: str, path: Path, known: set[str], root: str = "unisr") -> list[Edge]:
    tree = ast.parse(path.read_text(), filename=str(path))
    package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    rel = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    out = []
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        for t in targets:
            if t == root or t.startswith(root + "."):
                dst = resolve(t, known)
                if dst is not None and dst != mod:
                    out.append(Edge(mod, dst, f"{rel}:{node.lineno}"))
    return out


def import_graph(src: Path = SRC) -> list[Edge]:
    mods = modules(src)
    known = set(mods)
    return sorted({e for m, p in mods.items() for e in imports_of(m, p, known, src.name)},
                  key=lambda e: (e.src, e.dst, e.where))


def cycles(edges: list[Edge]) -> list[list[str]]:
    """One cycle (as a closed path) per strongly connected component with more than one module (Tarjan)."""
    adj: dict[str, list[str]] = {}
    for e in edges:
        adj.setdefault(e.src, []).append(e.dst)
        adj.setdefault(e.dst, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    comps: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:  # iterative Tarjan: the package graph may be deep
        work = [(v, iter(adj[v]))]
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        while work:
            node, it = work[-1]
            nxt = next(it, None)
            if nxt is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == node:
                            break
                    if len(comp) > 1:
                        comps.append(comp)
            elif nxt not in index:
                index[nxt] = low[nxt] = counter[0]
                counter[0] += 1
                stack.append(nxt)
                on.add(nxt)
                work.append((nxt, iter(adj[nxt])))
            elif nxt in on:
                low[node] = min(low[node], index[nxt])

    for v in sorted(adj):
        if v not in index:
            strong(v)
    return [shortest_cycle(adj, set(comp), min(comp)) for comp in comps]


def shortest_cycle(adj: dict[str, list[str]], members: set[str], start: str) -> list[str]:
    """The shortest closed path start -> ... -> start inside a strongly connected component (BFS)."""
    prev: dict[str, str] = {}
    frontier, seen = [start], {start}
    while frontier:
        nxt = []
        for u in frontier:
            for w in adj[u]:
                if w == start:
                    path = [u]
                    while path[-1] != start:
                        path.append(prev[path[-1]])
                    return [*reversed(path), start]
                if w in members and w not in seen:
                    seen.add(w)
                    prev[w] = u
                    nxt.append(w)
        frontier = nxt
    raise AssertionError(f"{start} is on no cycle")


def layer(mod: str) -> str:
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 else ""


def upward(edges: list[Edge]) -> list[Edge]:
    return [e for e in edges if layer(e.dst) in FORBIDDEN.get(layer(e.src), set())]


def model_to_model(edges: list[Edge]) -> list[Edge]:
    return [e for e in edges if layer(e.src) == "models" and layer(e.dst) == "models"
            and e.dst not in MODEL_INTERFACES]


def report(title: str, items: list) -> str:
    return f"{title} ({len(items)}):\n" + "\n".join(f"  {x}" for x in items)


# ------------------------------------------------------------------------------------------------------ tests
def test_the_graph_is_read_from_every_file():
    edges = import_graph()
    mods = modules()
    assert len(mods) > 100 and "unisr.models.registry" in mods and "unisr.nn" in mods
    # function-level imports count: the registry imports nothing at module level but is imported everywhere
    assert any(e.dst == "unisr.models.registry" for e in edges)
    assert any(e.src == "unisr.cli.train" and e.dst == "unisr.models.registry" for e in edges)


def test_no_import_cycle():
    edges = import_graph()
    where = {(e.src, e.dst): e.where for e in edges}
    found = [" -> ".join(c) + "  (" + ", ".join(where[a, b] for a, b in zip(c, c[1:], strict=False)) + ")"
             for c in cycles(edges)]
    assert not found, report("import cycles among unisr modules", found)


def test_no_upward_import():
    bad = upward(import_graph())
    assert not bad, report("imports from a lower layer into a higher one (see FORBIDDEN)", bad)


def test_model_files_import_no_other_model_file():
    bad = model_to_model(import_graph())
    assert not bad, report(f"model files importing another model file (allowed: {sorted(MODEL_INTERFACES)})", bad)


def test_the_checks_catch_planted_violations(tmp_path):
    """A planted package with a cycle, an upward arrow (relative, inside a function) and a model -> model edge."""
    pkg = tmp_path / "unisr"
    for d in ("nn", "models", "train"):
        (pkg / d).mkdir(parents=True)
        (pkg / d / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "nn" / "a.py").write_text("def f():\n    from ..models import b\n")
    (pkg / "models" / "b.py").write_text("from unisr.models.c import X\n")
    (pkg / "models" / "c.py").write_text("import unisr.nn.a\nX = 1\n")
    (pkg / "models" / "registry.py").write_text("")
    (pkg / "models" / "d.py").write_text("from unisr.models import registry\nfrom . import c\n")
    (pkg / "train" / "t.py").write_text("from unisr.models.registry import x\n")
    edges = import_graph(pkg)
    assert Edge("unisr.nn.a", "unisr.models.b", f"{tmp_path / 'unisr/nn/a.py'}:2") in edges
    assert [c for c in cycles(edges)] == [["unisr.models.b", "unisr.models.c", "unisr.nn.a", "unisr.models.b"]]
    assert [(e.src, e.dst) for e in upward(edges)] == [("unisr.nn.a", "unisr.models.b")]
    assert [(e.src, e.dst) for e in model_to_model(edges)] == [("unisr.models.b", "unisr.models.c"),
                                                               ("unisr.models.d", "unisr.models.c")]
    assert "unisr.models.d -> unisr.models.c" in report("x", model_to_model(edges))
