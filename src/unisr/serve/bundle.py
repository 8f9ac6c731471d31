"""A serving bundle: everything ``unisr serve`` needs from one ranking run and/or one matching run, in one
folder, checked file by file before anything is read.

Layout of ``BUNDLE/``::

    manifest.json            {"format": 1, "unisr_version", "created", "runs": [{"role", "model", "path",
                             "data", "graph"}], "files": {relative path: {"sha256", "bytes"}}}
    <role>/                  role = "ranking" | "matching": a run folder (config.yaml, model.safetensors,
                             encoders/, metrics.json; item_index/ for a matching run) plus graph/ (the graph
                             snapshot of a graph model; a model with its own graph, BOMGraph, has it in
                             graph/<model>-se<threshold>/) and onnx/ (``--onnx``)
    data/                    the dataset's files the run's pipeline reads at request time (dataset.yaml,
                             events, users, items, queries, social: the history, counters and graph snapshot
                             time); not the simulator's truth

Loading (``verify_bundle``) recomputes every sha256 of the manifest and refuses a missing, changed or unlisted
file with a ``BundleError`` naming it (the CLI exits 2). Nothing in a bundle is unpickled: weights are
safetensors, arrays ``.npy`` / ``.npz`` read with ``allow_pickle=False``, indexes FAISS' own format.

Shapes:
    (no tensors) export_bundle(runs, out) -> manifest dict; open_sources(runs, bundles) -> [Source]
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import unisr
from unisr.models.registry import get_model_info
from unisr.pipeline.run_folder import RunFolderError, read_config

FORMAT = 1
RUN_FILES = ("config.yaml", "model.safetensors", "metrics.json")
RUN_DIRS = ("encoders", "item_index")
DATA_TABLES = ("events", "users", "items", "queries", "social")


class BundleError(ValueError):
    """A bundle (or a source given to serve) is unusable; the message names the file."""


@dataclass(frozen=True)
class Source:
    """One run to serve: its folder, the dataset its pipeline opens, the graph snapshot (None = the run's)."""

    role: str
    run: Path
    data: Path | None = None
    graph_dir: Path | None = None


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def role_of(run: str | Path) -> str:
    return "matching" if get_model_info(read_config(run).model_name).task == "matching" else "ranking"


def _copy(src: Path, dst: Path) -> None:
    """Copy a file or folder keeping mtimes (the graph cache's fingerprint compares them)."""
    if src.is_dir():
        shutil.copytree(src, dst, copy_function=shutil.copy2, dirs_exist_ok=True)
    else:
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)


def own_graph(run: Path, data: Path) -> Path:
    """The folder of the graph a model samples from itself (``attach_graph``: ``pipeline/model_graph.py``, e.g.
    ``DATA/graph/bomgraph-se0.85-cetext``), checked to be built from ``data``'s current files with the model's config."""
    from unisr.pipeline.model_graph import load_model_graph, model_graph_dir
    from unisr.pipeline.run_folder import load_run

    cfg, _, net = load_run(run)
    try:
        load_model_graph(net, cfg, data)
    except RunFolderError as e:
        raise BundleError(f"{e} (`unisr evaluate --run {run}` builds it)") from None
    return model_graph_dir(net, cfg, data)


def export_bundle(runs: list[str | Path], out: str | Path, *, onnx: bool = False) -> dict:
    """Write the bundle of ``runs`` (at most one ranking and one matching run) into ``out``."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise BundleError(f"{out}: exists and is not empty (a bundle is written into a new folder)")
    roles: dict[str, Path] = {}
    for r in runs:
        r = Path(r)
        role = role_of(r)
        if role in roles:
            raise BundleError(f"{r}: a bundle holds one {role} run, {roles[role]} is one already")
        roles[role] = r
    entries, data_of = [], {}
    for role, run in roles.items():
        cfg = read_config(run)
        data = Path(cfg.data_path or "")
        if not (data / "dataset.yaml").is_file():
            raise BundleError(f"{run / 'config.yaml'}: data_path {str(data)!r} is not a canonical dataset")
        if str(data.resolve()) not in data_of:
            name = "data" if not data_of else f"data-{role}"
            data_of[str(data.resolve())] = name
            _copy(data / "dataset.yaml", out / name / "dataset.yaml")
            for f in sorted(data.iterdir()):
                if f.name.split(".")[0] in DATA_TABLES:
                    _copy(f, out / name / f.name)
        for f in RUN_FILES:
            if (run / f).is_file():
                _copy(run / f, out / role / f)
        for d in RUN_DIRS:
            if (run / d).is_dir():
                _copy(run / d, out / role / d)
        graph = None
        if hasattr(get_model_info(cfg.model_name).cls, "sampler_spec"):
            src = Path(cfg.data.graph_dir) if cfg.data.graph_dir else data / "graph"
            if not src.is_dir():
                raise BundleError(f"{src}: the graph snapshot of {run} is missing (train or `unisr graph build`)")
            _copy(src, out / role / "graph")
            graph = f"{role}/graph"
        if hasattr(get_model_info(cfg.model_name).cls, "attach_graph"):  # a model's own graph (BOMGraph)
            own = own_graph(run, data)
            _copy(own, out / role / "graph" / own.name)
            graph = f"{role}/graph"
        entries.append({"role": role, "model": cfg.model_name, "path": role, "data": data_of[str(data.resolve())],
                        "graph": graph})
    if onnx:
        from unisr.serve.onnx_export import export_onnx

        for e in entries:
            export_onnx(out / e["path"], out / e["path"] / "onnx")
    files = {str(p.relative_to(out)): {"sha256": sha256(p), "bytes": p.stat().st_size}
             for p in sorted(out.rglob("*")) if p.is_file()}
    manifest = {"format": FORMAT, "unisr_version": unisr.__version__,
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "runs": entries, "files": files}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def verify_bundle(path: str | Path) -> dict:
    """The bundle's manifest after checking every file against it (``BundleError`` naming the first bad one)."""
    path = Path(path)
    man_path = path / "manifest.json"
    try:
        manifest = json.loads(man_path.read_text())
    except FileNotFoundError:
        raise BundleError(f"{man_path}: missing (not a bundle written by `unisr export`)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BundleError(f"{man_path}: not valid JSON ({e})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or not isinstance(
            manifest.get("files"), dict) or not isinstance(manifest.get("runs"), list):
        raise BundleError(f"{man_path}: not a format-{FORMAT} bundle manifest (keys format, files, runs)")
    listed = manifest["files"]
    for rel, meta in listed.items():
        f = path / rel
        if ".." in Path(rel).parts or not f.is_file():
            raise BundleError(f"{f}: listed in {man_path} but missing")
        if f.stat().st_size != meta.get("bytes") or sha256(f) != meta.get("sha256"):
            raise BundleError(f"{f}: sha256 does not match {man_path} (changed or corrupt)")
    for f in sorted(path.rglob("*")):
        rel = str(f.relative_to(path))
        if f.is_file() and rel != "manifest.json" and rel not in listed:
            raise BundleError(f"{f}: not listed in {man_path} (a bundle holds only the files it lists)")
    return manifest


def bundle_sources(path: str | Path) -> list[Source]:
    path = Path(path)
    man = verify_bundle(path)
    return [Source(e["role"], path / e["path"], path / e["data"], path / e["graph"] if e.get("graph") else None)
            for e in man["runs"]]


def open_sources(runs: list[str | Path], bundles: list[str | Path]) -> list[Source]:
    """The runs to serve: run folders as they are and verified bundles; at most one ranking, one matching."""
    out: list[Source] = []
    for r in runs:
        r = Path(r)
        if not (r / "config.yaml").is_file():
            raise RunFolderError(f"{r / 'config.yaml'}: missing (not a run folder written by `unisr train`)")
        out.append(Source(role_of(r), r))
    for b in bundles:
        out.extend(bundle_sources(b))
    if not out:
        raise BundleError("nothing to serve: give --run RUN or --bundle BUNDLE")
    seen: dict[str, Path] = {}
    for s in out:
        if s.role in seen:
            raise BundleError(f"{s.run}: one {s.role} run is served at a time ({seen[s.role]} is one already)")
        seen[s.role] = s.run
    return out
