"""Export a run's ranker, or a matching run's user and item towers, to ONNX for other runtimes, with a parity
check against PyTorch (onnxruntime, max abs diff) written beside the graphs.

The ONNX graph takes the ``Batch`` tensors the model reads, flattened in a fixed order (``inputs.json`` names
them: ``scenario_id``, ``sparse``, ``dense``, ``seq.<name>.ids`` / ``seq.<name>.mask``, ``vec.<name>``, ...),
batch dimension dynamic; the encoding of raw ids into these tensors stays in Python (``serve.runtime``).
Graph models (a pipeline sampler, or a graph of their own: BOMGraph) are not exported: their input is a
neighbourhood sampled per request by the numpy / numba sampler (``graph/samplers``), which ONNX cannot
express; the report says so per model. Models that route rows by scenario (``nn/routing.py:ScenarioGroups``:
STAR, MMoE, PLE, APG, Shared-Bottom, USR, ...) are exported with ``dense_routing`` (every scenario's part on
every row, each row's own output selected by a mask: no data-dependent control flow); the parity check compares
that graph in onnxruntime with the routed PyTorch forward of training.

Shapes:
    ranker: (tensors [B, ...]) -> click logits [B]; user tower: -> [B, d]; item tower: (item_index [B],
    scenario_id [B]) -> [B, d]
"""

from __future__ import annotations

import json
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from unisr.data.batch import Batch
from unisr.nn.routing import dense_routing

TOLERANCE = 1e-5
SKIP = ("labels", "subgraph", "p_click", "p_click_no_position", "request_id", "position")


def flatten(batch: Batch) -> tuple[list[str], list[Tensor]]:
    """The batch's tensors in a fixed order and their input names."""
    names, tensors = [], []
    for f in fields(batch):
        v = getattr(batch, f.name)
        if f.name in SKIP or v is None:
            continue
        if isinstance(v, Tensor):
            names.append(f.name)
            tensors.append(v)
        elif f.name == "sequences":
            for k in sorted(v):
                names += [f"seq.{k}.ids", f"seq.{k}.mask"]
                tensors += list(v[k])
        elif f.name == "vectors":
            for k in sorted(v):
                names.append(f"vec.{k}")
                tensors.append(v[k])
    return names, tensors


class BatchModule(nn.Module):
    """``fn(net, batch)`` on a batch rebuilt from flat tensors (the layout of ``flatten(template)``).

    Shapes:
        forward(*tensors [B, ...]) -> fn's output [B, ...]
    """

    def __init__(self, net: nn.Module, template: Batch, fn) -> None:  # noqa: ANN001
        super().__init__()
        self.net, self.template, self.fn = net, template, fn
        self.names = flatten(template)[0]

    def forward(self, *tensors: Tensor) -> Tensor:
        top: dict = {}
        seqs: dict = {}
        vecs: dict = {}
        for name, t in zip(self.names, tensors, strict=True):
            if name.startswith("seq."):
                key, part = name[4:].rsplit(".", 1)
                seqs.setdefault(key, [None, None])[part == "mask"] = t
            elif name.startswith("vec."):
                vecs[name[4:]] = t
            else:
                top[name] = t
        b = replace(self.template, **top, sequences={k: tuple(v) for k, v in seqs.items()}, vectors=vecs,
                    labels={})
        return self.fn(self.net, b)


class ItemTower(nn.Module):
    """Shapes: (item_index [B], scenario_id [B]) -> [B, d]"""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, item_index: Tensor, scenario_id: Tensor) -> Tensor:
        return self.net.item_vectors(item_index, scenario_id)


def _export(module: nn.Module, args: tuple[Tensor, ...], names: list[str], path: Path, scenarios: int) -> float:
    """Write ``path`` and return the max abs diff of onnxruntime against PyTorch's routed forward on ``args``
    (the graph is exported with ``dense_routing``: every scenario's part on every row, selected by mask)."""
    import onnxruntime as ort

    module.eval()
    with torch.no_grad(), dense_routing(scenarios):
        ref = routed(module, args).numpy()
        axes = {n: {0: "batch"} for n in [*names, "output"]}
        try:  # the TorchScript-based exporter first (small graphs), then the torch.export-based one
            torch.onnx.export(module, args, str(path), input_names=names, output_names=["output"],
                              dynamic_axes=axes, dynamo=False)
        except RuntimeError:  # e.g. embedding_bag with padding_idx, which only the new exporter lowers
            batch = torch.export.Dim("batch")
            torch.onnx.export(module, args, str(path), input_names=names, output_names=["output"],
                              dynamic_shapes=(tuple({0: batch} for _ in args),), dynamo=True, verbose=False)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed_names = {i.name for i in sess.get_inputs()}  # inputs the traced graph does not read are pruned
    got = sess.run(None, {n: a.numpy() for n, a in zip(names, args, strict=True) if n in feed_names})[0]
    return float(np.max(np.abs(got - ref))) if ref.size else 0.0


def routed(module: nn.Module, args: tuple[Tensor, ...]) -> Tensor:
    """The module's training-time forward (``ScenarioGroups`` grouping rows by scenario), also inside
    ``dense_routing``."""
    with dense_routing(None):
        return module(*args)


def _reason(e: BaseException) -> str:
    """The exporter's error and its root cause, one line each."""
    parts = []
    while e is not None and len(parts) < 4:
        first = (str(e).strip().splitlines() or [""])[0]
        parts.append(f"{type(e).__name__}: {first[:200]}")
        e = e.__cause__ or e.__context__
    return " <- ".join(parts)


def export_onnx(run: str | Path, out: str | Path, data: str | Path | None = None,
                graph_dir: str | Path | None = None, n: int = 64) -> dict:
    """ONNX graphs of a run (``ranker.onnx``, or ``user_tower.onnx`` + ``item_tower.onnx``) and
    ``report.json``: per graph ``{"status": "ok", "max_abs_diff", "inputs"}`` or ``{"status": "not exported",
    "reason"}``; the example batch is ``n`` random corpus items for the first scenario's users."""
    from unisr.serve.runtime import Part, Request, open_runtime

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rt = open_runtime(run, data, graph_dir)
    rng = np.random.default_rng(0)
    items = rng.choice(np.asarray(rt.encoder.item_ids, np.int64), n)
    users = np.asarray(rt.encoder.user_ids, np.int64)
    report: dict = {"model": rt.cfg.model_name}
    if rt.sampler is not None or hasattr(rt.net, "attach_graph"):  # a pipeline sampler, or the model's own
        graphs = ("user_tower", "item_tower") if rt.task == "matching" else ("ranker",)
        for name in graphs:
            report[name] = {"status": "not exported", "reason": "a graph model: its input is a neighbourhood "
                            "sampled per request by the numpy/numba sampler, which ONNX cannot express"}
    else:
        batch = rt.rows([Part(Request(scenario=0, user_id=int(users[0]) if len(users) else None), items)])
        names, tensors = flatten(batch)
        jobs = []
        if rt.task == "matching":
            jobs.append(("user_tower", BatchModule(rt.net, batch, lambda m, b: m.user_vectors(b)), tensors, names))
            jobs.append(("item_tower", ItemTower(rt.net), (batch.item_index, batch.scenario_id),
                         ["item_index", "scenario_id"]))
        else:
            jobs.append(("ranker", BatchModule(rt.net, batch, lambda m, b: m(b)["click"]), tensors, names))
        for name, module, args, arg_names in jobs:
            try:
                diff = _export(module, tuple(args), arg_names, out / f"{name}.onnx", len(rt.scenarios))
                report[name] = {"status": "ok" if diff <= TOLERANCE else "mismatch", "max_abs_diff": diff,
                                "inputs": arg_names}
            except Exception as e:  # noqa: BLE001 - an op ONNX cannot express: said in the report, per graph
                report[name] = {"status": "not exported", "reason": _reason(e)}
    (out / "report.json").write_text(json.dumps(report, indent=1))
    return report
