"""ONNX export (``unisr export --onnx``): the DNN and STAR rankers and the DSSM user / item towers run in onnxruntime
within 1e-5 of PyTorch, on the export's example and on a fresh batch of another size; a graph model is
reported as not exported, with the reason."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import onnxruntime as ort
import torch

from serve.conftest import UNISR
from unisr.serve.onnx_export import TOLERANCE, flatten
from unisr.serve.runtime import Part, Request, open_runtime


def run_onnx(path, names, tensors) -> np.ndarray:  # noqa: ANN001
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    wanted = {i.name for i in sess.get_inputs()}
    return sess.run(None, {n: t.numpy() for n, t in zip(names, tensors, strict=True) if n in wanted})[0]


def test_onnx_parity(serve_runs, tmp_path) -> None:
    out = tmp_path / "b"
    r = subprocess.run([*UNISR, "export", "--run", str(serve_runs["dnn"]), "--run", str(serve_runs["dssm"]),
                        "--out", str(out), "--onnx"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    ranker = json.loads((out / "ranking" / "onnx" / "report.json").read_text())
    towers = json.loads((out / "matching" / "onnx" / "report.json").read_text())
    assert ranker["ranker"]["status"] == "ok" and ranker["ranker"]["max_abs_diff"] <= TOLERANCE
    assert towers["user_tower"]["status"] == "ok" and towers["item_tower"]["status"] == "ok"
    man = json.loads((out / "manifest.json").read_text())
    assert "ranking/onnx/ranker.onnx" in man["files"]

    # a fresh request of another size (dynamic batch) through both runtimes
    rt = open_runtime(out / "ranking", out / "data")
    batch = rt.rows([Part(Request(scenario=1, user_id=5, tokens=(3, 4)), np.arange(1, 38))])
    with torch.no_grad():
        ref = rt.net(batch)["click"].numpy()
    got = run_onnx(out / "ranking" / "onnx" / "ranker.onnx", *flatten(batch))
    assert got.shape == ref.shape and np.abs(got - ref).max() <= TOLERANCE

    mt = open_runtime(out / "matching", out / "data")
    batch = mt.rows([Part(Request(scenario=3, user_id=7), np.zeros(9, np.int64))])
    with torch.no_grad():
        ref_u = mt.net.user_vectors(batch).numpy()
        items = torch.arange(1, 30)
        ref_i = mt.net.item_vectors(items, torch.zeros_like(items)).numpy()
    assert np.abs(run_onnx(out / "matching" / "onnx" / "user_tower.onnx", *flatten(batch)) - ref_u).max() <= TOLERANCE
    got_i = run_onnx(out / "matching" / "onnx" / "item_tower.onnx", ["item_index", "scenario_id"],
                     [items, torch.zeros_like(items)])
    assert np.abs(got_i - ref_i).max() <= TOLERANCE


def test_graph_model_is_reported_not_exported(serve_runs, tmp_path) -> None:
    from unisr.serve.onnx_export import export_onnx

    rep = export_onnx(serve_runs["srjgraph"], tmp_path / "onnx")
    assert rep["ranker"]["status"] == "not exported" and "sampled" in rep["ranker"]["reason"]
    assert json.loads((tmp_path / "onnx" / "report.json").read_text()) == rep


def test_star_exported_through_dense_routing(sim_dir, tmp_path) -> None:
    """STAR routes rows by scenario (``ScenarioGroups``): its graph is exported with ``dense_routing`` and
    equals the routed PyTorch forward within 1e-5 in onnxruntime, on a fresh batch mixing three scenarios."""
    from serve.conftest import FAST
    from unisr.nn.routing import ScenarioGroups, dense_routing
    from unisr.serve.onnx_export import export_onnx
    from unisr.train.run import train_run

    run = tmp_path / "star"
    train_run("star", sim_dir, run, sets=FAST)
    rep = export_onnx(run, tmp_path / "onnx")
    assert rep["ranker"]["status"] == "ok" and rep["ranker"]["max_abs_diff"] <= TOLERANCE, rep

    rt = open_runtime(run)
    parts = [Part(Request(scenario=s, user_id=5 + s, tokens=(3, 4) if s == 1 else None), np.arange(1 + s, 12 + 3 * s))
             for s in (2, 0, 1)]
    batch = rt.rows(parts)
    assert len(set(batch.scenario_id.tolist())) == 3
    with torch.no_grad():
        ref = rt.net(batch)["click"].numpy()
        with dense_routing(len(rt.scenarios)):
            assert ScenarioGroups(batch.scenario_id).dense == len(rt.scenarios)
            dense = rt.net(batch)["click"].numpy()
    assert np.abs(dense - ref).max() <= TOLERANCE  # the export-only path equals the routed forward in PyTorch
    got = run_onnx(tmp_path / "onnx" / "ranker.onnx", *flatten(batch))
    assert got.shape == ref.shape and np.abs(got - ref).max() <= TOLERANCE
    assert ScenarioGroups(batch.scenario_id).dense is None  # outside the block: the grouped forward
