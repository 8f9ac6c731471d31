"""``unisr export`` bundles: every file in the manifest with its sha256; a changed, missing or unlisted file, or
no manifest, makes ``unisr serve --bundle`` exit 2 naming the file; the bundle serves without its source runs."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from serve.conftest import UNISR
from unisr.serve.bundle import BundleError, export_bundle, sha256, verify_bundle


def serve_exit(bundle: Path) -> tuple[int, str]:
    r = subprocess.run([*UNISR, "serve", "--bundle", str(bundle), "--port", "1"], capture_output=True,
                       text=True, timeout=120, env={**os.environ, "COLUMNS": "400"})
    return r.returncode, r.stdout + r.stderr


def test_manifest_lists_every_file_with_its_sha256(bundle: Path) -> None:
    man = json.loads((bundle / "manifest.json").read_text())
    assert man["unisr_version"] and man["format"] == 1
    assert {e["role"]: e["model"] for e in man["runs"]} == {"ranking": "dnn", "matching": "dssm"}
    on_disk = {str(p.relative_to(bundle)) for p in bundle.rglob("*") if p.is_file()} - {"manifest.json"}
    assert set(man["files"]) == on_disk
    for rel in ("ranking/model.safetensors", "ranking/config.yaml", "ranking/encoders/encoders.npz",
                "matching/item_index/manifest.json", "data/dataset.yaml", "data/events.parquet"):
        assert man["files"][rel]["sha256"] == sha256(bundle / rel)
    assert not any(p.suffix in (".pt", ".pkl") for p in bundle.rglob("*"))  # no checkpoints, no pickles
    assert verify_bundle(bundle) == man


def test_changed_file_exits_2_naming_it(bundle_copy) -> None:
    b = bundle_copy()
    w = b / "ranking" / "model.safetensors"
    data = bytearray(w.read_bytes())
    data[-1] ^= 0xFF
    w.write_bytes(bytes(data))
    code, out = serve_exit(b)
    assert code == 2, out
    assert "model.safetensors" in out and "sha256" in out and "Traceback" not in out


def test_missing_unlisted_and_manifest_problems_exit_2(bundle_copy) -> None:
    b = bundle_copy()
    (b / "matching" / "item_index" / "0.faiss").unlink()
    code, out = serve_exit(b)
    assert code == 2 and "0.faiss" in out and "missing" in out, out


def test_unlisted_file_and_no_manifest(bundle: Path, tmp_path: Path) -> None:
    import shutil

    b = tmp_path / "b"
    shutil.copytree(bundle, b, copy_function=shutil.copy2)
    (b / "ranking" / "extra.pkl").write_bytes(b"\x80\x04K\x01.")
    try:
        verify_bundle(b)
        raise AssertionError("an unlisted file passed the check")
    except BundleError as e:
        assert "extra.pkl" in str(e) and "not listed" in str(e)
    (b / "ranking" / "extra.pkl").unlink()
    (b / "manifest.json").unlink()
    code, out = serve_exit(b)
    assert code == 2 and "manifest.json" in out and "missing" in out, out


def test_graph_run_bundle_carries_its_snapshot(serve_runs: dict, tmp_path: Path) -> None:
    man = export_bundle([serve_runs["srjgraph"]], tmp_path / "g")
    (entry,) = man["runs"]
    assert entry["graph"] == "ranking/graph"
    assert any(k.startswith("ranking/graph/") and k.endswith(".npy") for k in man["files"])
    try:
        export_bundle([serve_runs["dnn"], serve_runs["srjgraph"]], tmp_path / "two")
        raise AssertionError("two ranking runs were bundled")
    except BundleError as e:
        assert "one ranking run" in str(e)


def test_cli_bad_sources_exit_2(serve_runs: dict, bundle: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from unisr.cli.main import app

    runner = CliRunner()
    r = runner.invoke(app, ["serve", "--run", str(tmp_path / "nope")], env={"COLUMNS": "400"})
    assert r.exit_code == 2 and "config.yaml" in r.output, r.output
    r = runner.invoke(app, ["serve"], env={"COLUMNS": "400"})
    assert r.exit_code == 2 and "--run" in r.output, r.output
    r = runner.invoke(app, ["export", "--run", str(serve_runs["dnn"]), "--out", str(bundle)], env={"COLUMNS": "400"})
    assert r.exit_code == 2 and "not empty" in r.output, r.output
    r = runner.invoke(app, ["serve", "--run", str(serve_runs["dnn"]), "--bundle", str(bundle)],
                      env={"COLUMNS": "400"})
    assert r.exit_code == 2 and "one ranking run" in r.output, r.output
