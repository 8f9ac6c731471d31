"""Sampled neighbourhoods as message-passing graphs, built from the typed subgraphs (``unisr.graph.subgraph``).

``build_trees``: SRJGraph's two sampled trees per target as one graph (the GNN baselines of SRJGraph's paper:
GAT, HGT, NGCF, LightGCN). Every sampled position is its own node (a GraphSAGE computation tree): the hop-k node
j of a sample hangs under its precursor, hop-(k-1) node ``j // width_k`` of the same sample, so the edges are
computed with ``arange`` and integer division, never per sample. Edges point child -> parent (bottom-up towards
the seed user / seed item). Only the nodes that reach their seed are kept (present, under present precursors):
a padded slot has no edge to the seed, so it could change neither a seed's representation nor a gradient, and
dropping it makes the graph ~15x smaller on the simulated marketplace, whose sampled trees are mostly padding.
Nodes are numbered hop-major (all seeds, then every kept hop-1 node, ...), so the nodes a layer still needs and
the edges feeding them are prefixes: layer l of L only updates hops 0..L-l from hops 0..L-l+1.

``social_forest``: TreeMS's multi-view social sample of the 2B users of a batch as one homogeneous forest.

Shapes:
    build_trees(TargetAwareSubgraph) -> SampledTrees: per node type the feature indices [N_t, F_t] hop-major,
    homogeneous ``edge_index`` [2, E] and per edge type ``hetero_edges[et]`` [2, E_et] (child -> parent);
    the seed user is homogeneous node b, the seed item node B + b (and node b of its own type)
    social_forest(SocialSubgraph, views, depth) -> Forest: feats[k] [N_k, F_user], edges[k-1] [2, E_k]
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from unisr.graph.subgraph import SocialSubgraph, TargetAwareSubgraph

USER_CLICKS: tuple[str, str, str] = ("user", "clicks", "item")  # message of a user child to its item parent
ITEM_CLICKED_BY: tuple[str, str, str] = ("item", "clicked_by", "user")
METADATA = (["user", "item"], [USER_CLICKS, ITEM_CLICKED_BY])
_OTHER = {"user": "item", "item": "user"}
_REL = {"user": USER_CLICKS, "item": ITEM_CLICKED_BY}  # by child type


@dataclass
class SampledTrees:
    """The batch's sampled trees as one graph (see the module docstring).

    ``blocks``: (type, feature indices [n, F_type]) of each (hop, side) block in node order (per type, the
    type's blocks in the same order give the type's own numbering); ``n_upto[h]`` / ``n_upto_type[t][h]``: nodes of hop <= h;
    ``e_upto[h]`` / ``he_upto[et][h]``: edges whose child is of hop <= h.
    """

    batch_size: int
    depth: int
    blocks: list[tuple[str, Tensor]]
    n_upto: list[int]
    n_upto_type: dict[str, list[int]]
    edge_index: Tensor
    e_upto: list[int]
    hetero_edges: dict[tuple[str, str, str], Tensor]
    he_upto: dict[tuple[str, str, str], list[int]]

    def tree_degree(self) -> Tensor:
        """Degree of every homogeneous node in the sampled tree seen as undirected: [N] float, >= 1."""
        n = self.n_upto[-1]
        ei = self.edge_index
        deg = torch.bincount(ei[0], minlength=n) + torch.bincount(ei[1], minlength=n)
        return deg.clamp(min=1).to(torch.float32)

    def sym_norm(self) -> Tensor:
        """1 / sqrt(|N_child| |N_parent|) per edge (the GCN / NGCF / LightGCN normalisation): [E]."""
        d = self.tree_degree().rsqrt()
        return d[self.edge_index[0]] * d[self.edge_index[1]]


def build_trees(sub: TargetAwareSubgraph) -> SampledTrees:
    """Vectorised over the batch: one Python step per (side, hop), never per sample."""
    b = len(sub)
    sides = [(side, sub.widths(side)) for side in ("user", "item")]
    depth = max(len(w) for _, w in sides)
    blocks: list[tuple[str, Tensor]] = []
    count = {"user": 0, "item": 0}
    edges: list[Tensor] = []
    hetero: dict[tuple[str, str, str], list[Tensor]] = {USER_CLICKS: [], ITEM_CLICKED_BY: []}
    n_upto, e_upto = [], []
    n_upto_type: dict[str, list[int]] = {"user": [], "item": []}
    he_upto: dict[tuple[str, str, str], list[int]] = {USER_CLICKS: [], ITEM_CLICKED_BY: []}
    n_total = e_total = 0
    he_total = {USER_CLICKS: 0, ITEM_CLICKED_BY: 0}
    reach = {side: sub.reachable(side) for side, _ in sides}
    prev: dict[str, tuple[int, int, Tensor]] = {}  # side -> (homo offset, type offset, row of each flat position)
    for h in range(depth + 1):
        for side, widths in sides:
            if h > len(widths):
                continue
            ntype = side if h % 2 == 0 else _OTHER[side]
            if h == 0:
                feat = sub.seed_feat(side)
                rank = torch.arange(b, device=feat.device)
            else:
                f = sub.hops(side)[h - 1].feat
                _, keep, rank = reach[side][h - 1]  # only the nodes that reach the seed
                p_homo, p_type, p_rank = prev[side]
                feat = f.reshape(-1, f.shape[-1])[keep]
                c = torch.arange(keep.shape[0], device=keep.device)
                pa = p_rank[torch.div(keep, widths[h - 1], rounding_mode="floor")]
                edges.append(torch.stack([n_total + c, p_homo + pa]))
                rel = _REL[ntype]
                hetero[rel].append(torch.stack([count[ntype] + c, p_type + pa]))
                e_total += int(c.shape[0])
                he_total[rel] += int(c.shape[0])
            size = int(feat.shape[0])
            blocks.append((ntype, feat))
            prev[side] = (n_total, count[ntype], rank)
            n_total += size
            count[ntype] += size
        n_upto.append(n_total)
        e_upto.append(e_total)
        for t in ("user", "item"):
            n_upto_type[t].append(count[t])
        for et in he_upto:
            he_upto[et].append(he_total[et])
    empty = torch.zeros(2, 0, dtype=torch.long, device=sub.user_seed_feat.device)
    return SampledTrees(
        batch_size=b, depth=depth, blocks=blocks,
        n_upto=n_upto, n_upto_type=n_upto_type,
        edge_index=torch.cat(edges, 1) if edges else empty, e_upto=e_upto,
        hetero_edges={et: torch.cat(v, 1) if v else empty for et, v in hetero.items()}, he_upto=he_upto)


def layer_slices(trees: SampledTrees, layer: int) -> tuple[int, int, int]:
    """(source nodes, destination nodes, edges) that layer ``layer`` (1..L) needs, as homogeneous prefixes."""
    top = trees.depth - layer  # this layer updates hops 0..top from hops 0..top + 1
    return trees.n_upto[top + 1], trees.n_upto[top], trees.e_upto[top + 1]


# --------------------------------------------------------------------------------------- social forest
@dataclass
class Forest:
    """The multi-view samples of the 2B seeds (B sources then B destinations) as one homogeneous forest:
    level 0 the seeds, level k (k >= 1) every view's hop-k slots, flattened in (seed, view, slot) order.
    Masked slots have no edge, so they never reach a seed.

    Shapes:
        feats[k]: [N_k, F_user] (N_0 = 2B, N_k = 2B * V * W_k)
        edges[k-1]: [2, E_k] long, (source slot in level k, target in level k-1), sorted by target
    """

    feats: list[Tensor]
    edges: list[Tensor]

    @property
    def depth(self) -> int:
        return len(self.edges)


def social_forest(sub: SocialSubgraph, views: list[str], depth: int) -> Forest:
    """Build the forest of ``views`` from the sample (``depth`` hops)."""
    seeds = torch.cat([sub.src_seed_feat, sub.dst_seed_feat], 0)
    n_seed = seeds.shape[0]
    feats, edges = [seeds], []
    prev_w = 1
    nv = len(views)
    hood = {(v, r): sub.neighbourhood(v, r).hops for v in views for r in ("src", "dst")}
    for k in range(1, depth + 1):
        f = torch.stack([torch.cat([hood[v, "src"][k - 1].feat, hood[v, "dst"][k - 1].feat], 0)
                         for v in views], 1)  # [2B, V, W_k, F]
        m = torch.stack([torch.cat([hood[v, "src"][k - 1].mask, hood[v, "dst"][k - 1].mask], 0)
                         for v in views], 1)  # [2B, V, W_k]
        w = f.shape[2]
        fan = w // prev_w
        b = torch.arange(n_seed).view(-1, 1, 1)
        r = torch.arange(nv).view(1, -1, 1)
        j = torch.arange(w).view(1, 1, -1)
        target = b.expand_as(m) if k == 1 else (b * nv * prev_w + r * prev_w + j // fan).expand_as(m)
        flat_m = m.reshape(-1)
        source = torch.arange(flat_m.numel())[flat_m]
        edges.append(torch.stack([source, target.reshape(-1)[flat_m]]))
        feats.append(f.reshape(-1, f.shape[-1]))
        prev_w = w
    return Forest(feats, edges)
