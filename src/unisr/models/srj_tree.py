"""Shared part of the GNN CTR baselines of SRJGraph's paper (GAT, HGT, NGCF, LightGCN; paper sec. 5.2):
SRJGraph's sampled neighbourhoods turned into one message-passing graph per batch, and the prediction head.

Paper sec. 5.3.1: "We sample neighbors as described in Section 4.2.2 for all GNN models", so the baselines read
the same ``batch.subgraph`` as SRJGraph (``unisr.graph.hooks.SRJGraphHook``, category filtering included), but
only the sampled nodes and their masks: the edge queries (``qtok``) and precursor features (``pre_feat``) are
SRJGraph's own upstream information and stay unused. The target query is a feature of the prediction.

Every sampled position is its own node (a GraphSAGE computation tree): the hop-k node j of a sample hangs under
its precursor, hop-(k-1) node ``j // width_k`` of the same sample, so the edges are computed with ``arange`` and
integer division, never per sample. Edges point child -> parent (bottom-up towards the seed user / seed item).
Only the nodes that reach their seed are kept (present, under present precursors): a padded slot has no edge to
the seed, so it could change neither a seed's representation nor a gradient, and dropping it makes the graph
~15x smaller on the simulated marketplace, whose sampled trees are mostly padding. Nodes are numbered hop-major
(all seeds, then every kept hop-1 node, ...), so the nodes a layer still needs and the edges feeding them are
prefixes: layer l of L only updates hops 0..L-l from hops 0..L-l+1.

Shapes:
    subgraph (SRJGraphHook layout) -> SampledTrees: per node type the feature indices [N_t, F_t] hop-major,
    homogeneous ``edge_index`` [2, E] and per edge type ``hetero_edges[et]`` [2, E_et] (child -> parent);
    the seed user is homogeneous node b, the seed item node B + b (and node b of its own type).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unisr.data.batch import Batch
from unisr.data.features import FeatureSchema
from unisr.models.registry import RankerConfig
from unisr.models.srjgraph import (
    SPARSE_MIN_ROWS,
    FieldEmbedding,
    QueryEmbedding,
    entity_fields,
    reachable_nodes,
)
from unisr.nn.mlp import MLP
from unisr.nn.routing import ScenarioGroups

USER_CLICKS: tuple[str, str, str] = ("user", "clicks", "item")  # message of a user child to its item parent
ITEM_CLICKED_BY: tuple[str, str, str] = ("item", "clicked_by", "user")
METADATA = (["user", "item"], [USER_CLICKS, ITEM_CLICKED_BY])
_OTHER = {"user": "item", "item": "user"}
# what every GNN baseline declares: SRJGraphHook fills batch.subgraph ("graph:srjgraph")
NEEDS = ("sparse", "scenario", "query_tokens", "graph:srjgraph")
# paper sec. 5.3.1: joint mini-batches alternate search / recommendation. The paper trains every model with
# Adagrad, but Adagrad at SRJGraph's lr 0.05 leaves these GNNs at or below AUC 0.5 on the simulated data (sim_tiny,
# joint, 4 epochs: GAT valid 0.47 / 0.38) where Adam 1e-3 trains them (0.56 / 0.67): a deviation, see the docs.
# eval_batch_size: 16384 targets x ~350 sampled nodes x (du + dp) floats would take several GB per batch
DEFAULTS = {"train": {"optimizer": "adam", "lr": 1e-3},
            "data": {"policy": "alternating", "groups": [["kind:search"], ["kind:recommend"]],
                     "eval_batch_size": 2048}}
_REL = {"user": USER_CLICKS, "item": ITEM_CLICKED_BY}  # by child type


class TreeGNNConfig(RankerConfig):
    """Settings shared by the GNN baselines; the sampling ones are read by ``SRJGraphHook`` too."""

    user_widths: list[int] = [25, 1, 10]  # paper sec. 5.3.1, the same as SRJGraph
    item_widths: list[int] = [1, 25, 1]
    category_filter: bool = True  # paper: all GNN models sample with category filtering
    # sample only clicks made before the target event (the paper's background window is the history; the
    # graph here also holds the training window, so a training event would otherwise see its future)
    temporal: bool = True
    dropout: float = 0.0
    mlp: list[int] = [200, 80]  # per task (search / recommendation), as SRJGraph's eq. 13


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


def build_trees(sub: dict[str, Tensor], user_widths: list[int], item_widths: list[int]) -> SampledTrees:
    """Vectorised over the batch: one Python step per (side, hop), never per sample."""
    b = int(sub["srj_user.seed_feat"].shape[0])
    sides = [("srj_user", "user", list(user_widths)), ("srj_item", "item", list(item_widths))]
    depth = max(len(user_widths), len(item_widths))
    blocks: list[tuple[str, Tensor]] = []
    count = {"user": 0, "item": 0}
    edges: list[Tensor] = []
    hetero: dict[tuple[str, str, str], list[Tensor]] = {USER_CLICKS: [], ITEM_CLICKED_BY: []}
    n_upto, e_upto = [], []
    n_upto_type: dict[str, list[int]] = {"user": [], "item": []}
    he_upto: dict[tuple[str, str, str], list[int]] = {USER_CLICKS: [], ITEM_CLICKED_BY: []}
    n_total = e_total = 0
    he_total = {USER_CLICKS: 0, ITEM_CLICKED_BY: 0}
    reach = {side: reachable_nodes(sub, side, widths) for side, _, widths in sides}
    prev: dict[str, tuple[int, int, Tensor]] = {}  # side -> (homo offset, type offset, row of each flat position)
    for h in range(depth + 1):
        for side, seed_type, widths in sides:
            if h > len(widths):
                continue
            ntype = seed_type if h % 2 == 0 else _OTHER[seed_type]
            if h == 0:
                feat = sub[f"{side}.seed_feat"]
                rank = torch.arange(b, device=feat.device)
            else:
                f = sub[f"{side}.hop{h}.feat"]
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
    device = sub["srj_user.seed_feat"].device
    empty = torch.zeros(2, 0, dtype=torch.long, device=device)
    return SampledTrees(
        batch_size=b, depth=depth, blocks=blocks,
        n_upto=n_upto, n_upto_type=n_upto_type,
        edge_index=torch.cat(edges, 1) if edges else empty, e_upto=e_upto,
        hetero_edges={et: torch.cat(v, 1) if v else empty for et, v in hetero.items()}, he_upto=he_upto)


def layer_slices(trees: SampledTrees, layer: int) -> tuple[int, int, int]:
    """(source nodes, destination nodes, edges) that layer ``layer`` (1..L) needs, as homogeneous prefixes."""
    top = trees.depth - layer  # this layer updates hops 0..top from hops 0..top + 1
    return trees.n_upto[top + 1], trees.n_upto[top], trees.e_upto[top + 1]


class TreeGNNRanker(nn.Module):
    """Base of the GNN baselines: embeds the sampled nodes, calls ``encode`` and predicts.

    Prediction: MLP_task(h_u || e_q || h_p) -> click logit, one MLP for search and one for recommendation
    (routed with ``ScenarioGroups``, as SRJGraph's eq. 13); JSR joint form = these heads over shared embeddings
    and GNN layers, trained on both scenarios' data and graph.

    Shapes:
        batch (with ``subgraph`` from ``SRJGraphHook``) -> {"click": [B] logits}
    """

    def __init__(self, user_emb: FieldEmbedding, item_emb: FieldEmbedding, query_emb: QueryEmbedding,
                 is_search: Tensor, user_widths: list[int], item_widths: list[int], out_dim: int,
                 mlp: list[int], dropout: float) -> None:
        super().__init__()
        self.user_emb, self.item_emb, self.query_emb = user_emb, item_emb, query_emb
        self.register_buffer("is_search", is_search, persistent=False)
        self.user_widths, self.item_widths = list(user_widths), list(item_widths)
        self.depth = max(len(user_widths), len(item_widths))
        ex = 2 * out_dim + query_emb.table.embedding_dim
        self.mlps = nn.ModuleList([MLP(ex, mlp, 1, dropout=dropout),  # recommendation
                                   MLP(ex, mlp, 1, dropout=dropout)])  # search

    @staticmethod
    def inputs(schema: FeatureSchema, cfg: TreeGNNConfig) -> tuple[FieldEmbedding, FieldEmbedding,
                                                                      QueryEmbedding, Tensor]:
        """Embeddings as SRJGraph's (eqs. 1-3, the same node fields) and the search flag of each scenario."""
        fields = entity_fields(schema)
        sparse = bool(cfg.sparse_grad) if cfg.sparse_grad is not None else (
            sum(f.vocab_size for f in schema.sparse) >= SPARSE_MIN_ROWS)
        qf = schema.sequence("query_tokens")
        is_search = torch.tensor([k.startswith("search") for k in schema.scenario_kinds], dtype=torch.long)
        return (FieldEmbedding(*fields["user"], sparse), FieldEmbedding(*fields["item"], sparse),
                QueryEmbedding(qf.vocab_size if qf else 2, qf.embed_dim if qf else fields["user"][1][0], sparse),
                is_search)

    @property
    def node_dims(self) -> dict[str, int]:
        return {"user": self.user_emb.out_dim, "item": self.item_emb.out_dim}

    def embed_typed(self, trees: SampledTrees) -> dict[str, Tensor]:
        """Node features per type in the type's own numbering: {"user": [N_user, du], "item": [N_item, dp]}.
        One embedding call per type: one dense table-sized gradient per type instead of one per block."""
        out = {}
        for t, emb in (("user", self.user_emb), ("item", self.item_emb)):
            out[t] = emb(torch.cat([f for bt, f in trees.blocks if bt == t]))
        return out

    def embed_blocks(self, trees: SampledTrees) -> list[Tensor]:
        """Each block's node features (e_u [n, du] or e_p [n, dp]) in node order (``split`` of the per-type
        embeddings: its backward concatenates, where slicing would zero-fill a full-size tensor per block)."""
        typed = self.embed_typed(trees)
        parts = {t: list(typed[t].split([f.shape[0] for bt, f in trees.blocks if bt == t])) for t in typed}
        return [parts[t].pop(0) for t, _ in trees.blocks]

    def embed_homogeneous(self, trees: SampledTrees) -> tuple[Tensor, Tensor]:
        """One feature space for both types without any learned map: a user node is e_u || 0, an item node
        0 || e_p (the layout SRJGraph's eq. 11 uses). Returns (all nodes [N, du + dp] hop-major, the seeds
        [2B, du + dp]: the seed users then the seed items)."""
        du, dp = self.node_dims["user"], self.node_dims["item"]
        out = [F.pad(e, (0, dp) if t == "user" else (du, 0))
               for (t, _), e in zip(trees.blocks, self.embed_blocks(trees), strict=True)]
        return torch.cat(out, 0), torch.cat(out[:2], 0)

    def encode(self, trees: SampledTrees) -> tuple[Tensor, Tensor]:
        """(seed user representation [B, out_dim], seed item representation [B, out_dim])."""
        raise NotImplementedError

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        sub = batch.subgraph
        if "srj_user.seed_feat" not in sub:
            raise ValueError(f"{type(self).__name__} needs batch.subgraph from unisr.graph.hooks.SRJGraphHook")
        trees = build_trees(sub, self.user_widths, self.item_widths)
        h_u, h_p = self.encode(trees)
        qt = batch.sequences.get("query_tokens")
        tokens = qt[0] if qt is not None else torch.zeros(len(batch), 1, dtype=torch.long, device=h_u.device)
        x = torch.cat([h_u, self.query_emb(tokens), h_p], -1)
        task = self.is_search[batch.scenario_id]
        logit = ScenarioGroups(task).apply(x, lambda t, z: self.mlps[t](z)).squeeze(1)
        return {"click": logit}
