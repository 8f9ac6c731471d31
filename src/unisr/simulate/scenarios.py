"""The scenario registry: stable ids, names, kinds, traffic, click-model weights and the share tree.

Ids: 0 ``search_text``, 1 ``search_visual``, 2 ``search_similar``; 10 + j the j-th feed (``feed_main``
first); 100 + j the j-th share leaf, named by its full path (``share/chat/product/p0``), ``tree_path`` the
cumulative node names from the root (``["share", "share/chat", "share/chat/product", ...]``).

Share leaves' weights over the social features are drawn down the tree (child = parent + noise that
shrinks with depth), so siblings have similar preferences over social views (TreeMS's premise); the
leaves' traffic is Zipf over a seeded permutation, so most leaves are long-tail.

Shapes:
    share leaves [L] with weights [L, 5] (and v2 [L, 4])
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from unisr.data.schema import ScenarioKind, ScenarioSpec
from unisr.simulate.config import SimConfig
from unisr.simulate.sampling import child_rng, zipf_weights

SHARE_FEATURES = ("friend", "pay", "tie", "interest", "community")
# v2 leaf_specificity: observable relations (pay in both directions, the written interaction count)
SHARE_OBSERVED = ("friend", "pay_out", "pay_in", "interact")
SHARE_OBSERVED_ROOT = (0.0, 0.3, 0.1, 0.35)
LEVEL_NAMES = [
    ["chat", "moments", "group", "c2c", "live"],
    ["product", "shop", "coupon", "game", "live"],
    ["fashion", "beauty", "home", "food", "digital", "kids"],
    ["a", "b", "c", "d", "e", "f"],
]


@dataclass
class Scenario:
    id: int
    name: str
    kind: str  # ScenarioKind value
    group: int  # index into the session chain's groups (0 text, 1 visual, 2 similar, 3.. feeds, last share)
    traffic: float
    base: float
    position_bias: float
    weights: dict[str, float]
    tree_path: list[str] | None = None


@dataclass
class Registry:
    scenarios: list[Scenario]
    n_groups: int
    share_group: int
    share_ids: np.ndarray  # scenario ids of the share leaves
    share_traffic: np.ndarray  # leaf probabilities within sharing
    share_w: np.ndarray  # [n_leaves, len(SHARE_FEATURES)]
    share_base: np.ndarray
    share_wo: np.ndarray | None  # v2: [n_leaves, len(SHARE_OBSERVED)] weights over observable relations
    group_traffic: np.ndarray  # [n_groups] entry distribution of sessions
    by_id: dict[int, Scenario] = field(default_factory=dict)

    def specs(self) -> list[ScenarioSpec]:
        return [
            ScenarioSpec(id=s.id, name=s.name, kind=ScenarioKind(s.kind), tree_path=s.tree_path)
            for s in self.scenarios
        ]


def build_registry(cfg: SimConfig, seed: int) -> Registry:
    sc = cfg.scenarios
    rng = child_rng(seed, 5)
    out: list[Scenario] = []
    for j, (name, s) in enumerate(sc.search.items()):
        out.append(Scenario(j, name, name, j, s.traffic, s.base, s.position_bias, dict(s.weights)))
    for j, f in enumerate(sc.feeds):
        out.append(Scenario(10 + j, f.name, "recommend", 3 + j, f.traffic, f.base, f.position_bias, dict(f.weights)))
    share_group = 3 + len(sc.feeds)

    # ---- the share tree
    sh = sc.share
    paths: list[list[str]] = [["share"]]
    for depth, b in enumerate(sh.branching):
        names = LEVEL_NAMES[depth] if depth < len(LEVEL_NAMES) else [f"n{i}" for i in range(b)]
        names = names + [f"{names[0]}{i}" for i in range(len(names), b)]
        paths = [p + [f"{p[-1]}/{names[i]}"] for p in paths for i in range(b)]
    root_w = np.array([sh.weights[f] for f in SHARE_FEATURES])
    node_w: dict[str, np.ndarray] = {"share": root_w}
    node_b: dict[str, float] = {"share": sh.base}
    for p in paths:  # walk each path; a node's draw is shared by all leaves below it
        for depth in range(1, len(p)):
            if p[depth] not in node_w:
                noise = sh.level_noise[min(depth - 1, len(sh.level_noise) - 1)]
                node_w[p[depth]] = node_w[p[depth - 1]] + rng.normal(0, noise, len(SHARE_FEATURES))
                node_b[p[depth]] = node_b[p[depth - 1]] + rng.normal(0, 0.6 * noise)
    n_leaves = len(paths)
    traffic = zipf_weights(n_leaves, sh.zipf, cfg.exact)[rng.permutation(n_leaves)]
    share_w = np.stack([node_w[p[-1]] for p in paths])
    share_b = np.array([node_b[p[-1]] for p in paths])
    if cfg.exact:  # v2 leaf_specificity scales every leaf's deviation from the root (0: all leaves alike)
        s = cfg.strength("leaf_specificity")
        share_w = root_w + s * (share_w - root_w)
        share_b = sh.base + s * (share_b - sh.base)
    share_ids = 100 + np.arange(n_leaves)
    share_wo = _observed_weights(cfg, seed, paths) if cfg.exact else None
    for j, p in enumerate(paths):
        w = dict(zip(SHARE_FEATURES, map(float, share_w[j]), strict=True))
        out.append(
            Scenario(int(share_ids[j]), p[-1], "share", share_group, sh.traffic * traffic[j], float(share_b[j]),
                     sh.position_bias, w, tree_path=p)
        )
    group_traffic = np.zeros(share_group + 1)
    for s in out:
        group_traffic[s.group] += s.traffic
    group_traffic /= group_traffic.sum()
    reg = Registry(
        scenarios=out,
        n_groups=share_group + 1,
        share_group=share_group,
        share_ids=share_ids,
        share_traffic=traffic,
        share_w=share_w,
        share_base=share_b,
        share_wo=share_wo,
        group_traffic=group_traffic,
    )
    reg.by_id = {s.id: s for s in out}
    return reg


def _observed_weights(cfg: SimConfig, seed: int, paths: list[list[str]]) -> np.ndarray:
    """v2 ``leaf_specificity``: each tree node adds N(0, sigma_depth) to its parent's weights over the
    observable relations; sigma is large at the first level (chat / moments / group differ in *which*
    relation predicts a share) and shrinks with depth (siblings closer than cousins). Own generator, so
    the other draws do not depend on it."""
    rng = child_rng(seed, 6)
    noise = cfg.mechanisms.leaf_specificity.level_noise
    node: dict[str, np.ndarray] = {"share": np.array(SHARE_OBSERVED_ROOT)}
    for p in paths:
        for depth in range(1, len(p)):
            if p[depth] not in node:
                node[p[depth]] = node[p[depth - 1]] + rng.normal(0, noise[min(depth - 1, len(noise) - 1)],
                                                                 len(SHARE_OBSERVED))
    return np.stack([node[p[-1]] for p in paths])


def transition_matrix(reg: Registry) -> np.ndarray:
    """Where a session moves when it switches scenario (the funnel): rows = from-group, cols = to-group.

    visual -> textual / similar-product search; textual -> similar-product / feed / share; similar ->
    textual / guess-you-like feed / share; feeds -> textual / similar search / share; share -> main feed.
    """
    G, F = reg.n_groups, reg.n_groups - 4
    T = np.zeros((G, G))
    feed_main, feed_guess = 3, 3 + min(1, F - 1)
    T[0, [2, 1, feed_main, reg.share_group]] = [0.5, 0.1, 0.25, 0.15]
    T[1, [0, 2]] = [0.6, 0.4]
    T[2, [0, feed_guess, reg.share_group]] = [0.5, 0.3, 0.2]
    for f in range(3, 3 + F):
        T[f, [0, 2, reg.share_group]] += [0.6, 0.25, 0.15]
    T[reg.share_group, [feed_main, 0]] = [0.6, 0.4]
    return T / T.sum(axis=1, keepdims=True)
