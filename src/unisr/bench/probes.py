"""Probes of trained runs for the report figures: what a model exposes beyond its logits (TreeMS's eq. 6 gates,
a model's learned scenario representations), read through the model's public methods.

Shapes:
    run folder, S leaves -> gates [H, n] (busiest leaf), [H, n] (traffic-weighted mean); representations [S, d]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def gate_utilisation(run: Path, leaves: list[str], weights: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """TreeMS gate weights (eq. 6) of a trained run: (of the busiest leaf [H, n], traffic-weighted mean over the
    share leaves [H, n]). Gates depend only on the scenario, so these are exact, not sampled."""
    import torch

    from unisr.pipeline.run_folder import load_run

    _, encoder, net = load_run(run)
    idx = torch.tensor([encoder.schema.scenarios.index(s) for s in leaves])
    with torch.no_grad():
        g = net.tree(idx)[0].numpy()  # [S, H, n]
    w = np.asarray(weights, dtype=np.float64)
    w = w / w.sum() if w.sum() > 0 else np.full(len(w), 1 / len(w))
    return g[int(np.argmax(w))], np.einsum("s,shn->hn", w, g)


def scenario_representations(run: Path, leaves: list[str]) -> np.ndarray:
    """The model's learned scenario representation of each leaf ([S, d]): ``scenario_representations()``."""
    from unisr.pipeline.run_folder import load_run

    _, encoder, net = load_run(run)
    reps = net.scenario_representations().cpu().numpy()
    return reps[[encoder.schema.scenarios.index(s) for s in leaves]]


def untrained_representations(run: Path, leaves: list[str]) -> np.ndarray:
    """The same model as ``run``, freshly initialised (seed 0): what the representations are before training."""
    import torch

    from unisr.models.registry import build_model
    from unisr.pipeline.run_folder import load_run

    cfg, encoder, _ = load_run(run)
    torch.manual_seed(0)
    net = build_model(cfg.model_name, cfg.model_params, encoder.schema).eval()
    reps = net.scenario_representations().cpu().numpy()
    return reps[[encoder.schema.scenarios.index(s) for s in leaves]]
