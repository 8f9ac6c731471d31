"""Report figures and their summaries: grouped bars, gate heat maps, 2-D scatters, PCA, silhouette scores,
t-SNE of two views.

Shapes:
    x [N, d] -> pca2 [N, 2]; gates [H, n] -> norm_entropy [H]; x [N, d], labels [N] -> silhouette scalar
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def bar_plot(path: Path, groups: list[str], series: dict[str, list[tuple[float, float]]], ylabel: str,
             title: str, ylim: tuple[float, float] | None = None) -> Path:
    """Grouped bars: ``series[name][i]`` = (mean, std) for group i."""
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(groups) * max(1, len(series)) / 2), 4))
    n = max(len(series), 1)
    width = 0.8 / n
    for j, (name, vals) in enumerate(series.items()):
        xs = [i + (j - (n - 1) / 2) * width for i in range(len(groups))]
        ax.bar(xs, [v[0] for v in vals], width, yerr=[v[1] for v in vals], label=name, capsize=2)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(groups, rotation=20)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if ylim:
        ax.set_ylim(*ylim)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def norm_entropy(g: np.ndarray) -> np.ndarray:
    """Per layer entropy of the gate distribution / log n (1 = every expert used equally). [H, n] -> [H]."""
    p = np.clip(g, 1e-12, 1)
    return -(p * np.log(p)).sum(-1) / math.log(g.shape[-1])


def pca2(x: np.ndarray) -> np.ndarray:
    x = x - x.mean(0, keepdims=True)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    return x @ vt[:2].T if vt.shape[0] >= 2 else np.hstack([x @ vt[:1].T, np.zeros((len(x), 1))])


def silhouette(x: np.ndarray, labels: list[str]) -> float:
    """Mean silhouette of the labels in x (Euclidean); NaN with fewer than 2 groups."""
    lab = np.asarray(labels)
    groups = np.unique(lab)
    if len(groups) < 2 or len(x) < 3:
        return float("nan")
    d = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))
    s = []
    for i in range(len(x)):
        same = (lab == lab[i]) & (np.arange(len(x)) != i)
        if not same.any():
            continue
        a = d[i, same].mean()
        b = min(d[i, lab == g].mean() for g in groups if g != lab[i])
        s.append((b - a) / max(a, b, 1e-12))
    return float(np.mean(s)) if s else float("nan")


def heatmaps(path: Path, mats: dict[str, np.ndarray], title: str) -> Path:
    fig, axes = plt.subplots(1, len(mats), figsize=(4.2 * len(mats), 3.2), squeeze=False)
    vmax = max(float(m.max()) for m in mats.values())
    for ax, (name, m) in zip(axes[0], mats.items(), strict=True):
        im = ax.imshow(m, vmin=0, vmax=vmax, cmap="viridis", aspect="auto")
        ax.set_xlabel("expert")
        ax.set_ylabel("layer")
        ax.set_xticks(range(m.shape[1]))
        ax.set_yticks(range(m.shape[0]), [str(i + 1) for i in range(m.shape[0])])
        ax.set_title(name, fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def scatter2d(path: Path, panels: dict[str, np.ndarray], labels: list[str], title: str) -> Path:
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), squeeze=False)
    groups = sorted(set(labels))
    cmap = plt.get_cmap("tab10")
    for ax, (name, xy) in zip(axes[0], panels.items(), strict=True):
        for gi, g in enumerate(groups):
            m = np.asarray([lab == g for lab in labels])
            ax.scatter(xy[m, 0], xy[m, 1], s=30, color=cmap(gi % 10), label=g)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("PC 1")
        ax.set_ylabel("PC 2")
    axes[0][-1].legend(fontsize=7, loc="best")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def views_figure(path: Path, out: dict[str, np.ndarray], panels: list[tuple[str, str, str]]) -> dict[str, float]:
    """Fig. 2(a) of USR: each panel (title, key of view a, key of view b) scatters the two views' representations
    of the same samples in 2-D (t-SNE when scikit-learn is there, else PCA); returns the silhouette score of the
    view labels in the original space per panel (keyed by the 5th letter of view a's key, ``usr/i_s`` -> ``i``;
    > 0: the views separate). A view missing from ``out`` leaves its panel titled "layer switched off"."""
    try:
        from sklearn.manifold import TSNE
        from sklearn.metrics import silhouette_score

        def reduce(x: np.ndarray) -> np.ndarray:
            return TSNE(2, init="pca", perplexity=30, random_state=0).fit_transform(x)
        method = "t-SNE"
    except ImportError:  # pragma: no cover - scikit-learn is optional
        silhouette_score = None

        def reduce(x: np.ndarray) -> np.ndarray:
            xc = x - x.mean(0)
            return xc @ np.linalg.svd(xc, full_matrices=False)[2][:2].T
        method = "PCA"
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4.5))
    sil = {}
    for ax, (title, a, b) in zip(np.atleast_1d(axes), panels, strict=True):
        if a not in out:
            ax.set_title(f"{title}: layer switched off")
            continue
        x = np.concatenate([out[a], out[b]])
        lab = np.r_[np.zeros(len(out[a])), np.ones(len(out[b]))]
        z = reduce(x)
        ax.scatter(z[lab == 0, 0], z[lab == 0, 1], s=3, c="tab:blue", label="search view")
        ax.scatter(z[lab == 1, 0], z[lab == 1, 1], s=3, c="tab:orange", label="recommendation view")
        ax.set_title(f"{title} ({method})")
        ax.legend(markerscale=4)
        if silhouette_score is not None:
            sil[a[4]] = float(silhouette_score(x, lab))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return sil
