"""Tests of ``unisr.bench.plots``: the figure summaries (entropy, PCA, silhouette) and that the plots are written."""

from __future__ import annotations

import numpy as np

from unisr.bench.plots import bar_plot, heatmaps, norm_entropy, pca2, scatter2d, silhouette


def test_figure_summaries():
    assert np.allclose(norm_entropy(np.full((3, 8), 1 / 8)), 1.0)
    assert norm_entropy(np.eye(4)[:2]).max() < 1e-6
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(0, 0.1, (6, 5)), rng.normal(3, 0.1, (6, 5))])
    labels = ["a"] * 6 + ["b"] * 6
    assert silhouette(x, labels) > 0.9
    assert silhouette(x, ["a", "b"] * 6) < 0.1
    assert np.isnan(silhouette(x, ["a"] * 12))
    assert pca2(x).shape == (12, 2)



def test_plots_write_png_files(tmp_path):
    png = b"\x89PNG"
    p = bar_plot(tmp_path / "b.png", ["g1", "g2"], {"m": [(0.6, 0.01), (0.7, 0.0)]}, "AUC", "t", ylim=(0.5, 1))
    h = heatmaps(tmp_path / "h.png", {"a": np.full((3, 4), 0.25), "b": np.eye(3, 4)}, "gates")
    xy = np.random.default_rng(0).normal(size=(6, 2))
    s = scatter2d(tmp_path / "s.png", {"x": xy}, ["a", "a", "a", "b", "b", "b"], "reps")
    assert all(f.read_bytes()[:4] == png for f in (p, h, s))
