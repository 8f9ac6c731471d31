"""TreeMS (Niu et al., "Heterogeneous Graph Augmented Multi-Scenario Sharing Recommendation with Tree-Guided
Expert Networks", WSDM'21): which user will a user share with, in which of many sharing scenarios organised as
a tree. Equation numbers refer to the paper (``../shared/papers/003_7262faa8dd51c9b6.txt``); the mapping and
the deviations are in ``docs/models/treems.md``.

- eq. 3: x = concat(u, v, t, c) (``unisr.nn.social.ShareInput`` gives u, v, t exactly as to every baseline; t is
  the pair's directed, weighted history; c is the scenario's full-path LSTM state h_H^s, or with
  ``use_tree=False`` the baselines' flat scenario embedding). The paper puts c in x; ``context_in_x=False``
  leaves it out, so the scenario reaches the experts' mixture through the gates (and the attention) only
- eq. 4: every tree node embedded once (``TreeContext.nodes``, one ``nn.Embedding`` over the dataset's tree),
  the full path root -> leaf run through an LSTM
- eqs. 5-6: ``TowerExperts`` keeps every layer's output f_i^k(x); layer i's gate softmax(W_i h_i^s)
- eq. 7: concat(z_1..z_H) -> MLPs -> one prediction layer shared by all scenarios
- eqs. 8-13: ``ViewAttention`` per view, L layers, scores see c (LeakyReLU), update σ(W[u || ũ]), views
  concatenated
- eq. 15: ``extra_losses`` returns γ · L_aux over every layer's gate; eq. 16's λ·||Θ||² is the optimizer's
  ``train.weight_decay`` (default 1e-6 for treems; it covers every parameter except embedding tables trained
  with sparse gradients, i.e. from 100k embedding rows on, as on sim-small)

Shapes:
    batch (with a ``SocialSubgraph``, ``graph:social``) -> {"click": [B] logits, "gates": [B, H, n] gate weights per layer}
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unisr.data.batch import Batch
from unisr.data.features import FeatureSchema
from unisr.graph.subgraph import SocialSubgraph
from unisr.models.graph_configs import SHARE_DEFAULTS, SHARE_NEEDS, ShareConfig
from unisr.models.registry import register_model
from unisr.nn.mlp import MLP
from unisr.nn.social import ShareInput, SocialSampling, init_relu_stacks


class TreeMSConfig(ShareConfig):
    """Defaults: the paper's where it gives one (8 experts, H = tree depth, Adagrad, LeakyReLU), else ours."""

    num_experts: int = 8  # sec. 4.4.1
    expert_dim: int = 64  # width of the first expert layer (not given in the paper)
    expert_dims: list[int] | None = None  # per layer (len H, non-increasing); None: expert_dim shrinking to half
    node_dim: int = 16  # tree node embedding o (not given)
    node_init_std: float = 1.0  # std of the node embeddings' normal init (not given; nn.Embedding's default)
    lstm_dim: int = 32  # h^s (not given)
    hidden: list[int] = [64, 32]  # the MLPs of eq. 7 (not given)
    use_tree: bool = True  # False: gates from a flat scenario embedding (MMoE-like, no tree sharing)
    use_graph: bool = True  # False: u, v are the users' own field embeddings (no eqs. 8-13)
    use_inconsistency: bool = True  # False: no eq. 15
    # eq. 3 puts c in x (the paper); False: x = concat(u, v, t), the scenario reaches the prediction only through
    # the gates (eq. 6) and the attention (eq. 10): an ablation, docs/models/treems.md "c inside x"
    context_in_x: bool = True
    gamma: float = 0.1  # γ of eq. 16 (not given); λ of eq. 16 is train.weight_decay


def tree_vocabulary(schema: FeatureSchema) -> tuple[list[str], list[list[int]]]:
    """Every node of the dataset's scenario tree(s) once, and each scenario's full path as node indices.

    Node 0 is padding. A scenario without a ``tree_path`` is a path of one node of its own (``<name>``).

    Shapes:
        schema -> (node names [N], per scenario the path's node indices, root first)
    """
    names = ["<pad>"]
    index: dict[str, int] = {}
    paths: list[list[int]] = []
    tree = schema.tree_paths or [[] for _ in schema.scenarios]
    for name, path in zip(schema.scenarios, tree, strict=True):
        nodes = list(path) if path else [f"<{name}>"]
        ids = []
        for n in nodes:
            if n not in index:
                index[n] = len(names)
                names.append(n)
            ids.append(index[n])
        paths.append(ids)
    return names, paths


class TreeContext(nn.Module):
    """The scenario side of TreeMS: node embeddings, the path LSTM (eq. 4) and the per-layer gates (eq. 6).

    Each scenario's path is padded to the tree depth H by repeating its leaf. A node never seen in training
    (``seen`` is set by training forwards) is replaced at evaluation by its nearest seen ancestor, so a new or
    unseen leaf is predicted through its ancestors' path. ``use_tree=False`` replaces the path by one flat
    embedding per scenario, given to every layer's gate (MMoE-like).

    Shapes:
        forward(scenarios [S'] long) -> (gates [S', H, n], h_H [S', lstm_dim])
    """

    def __init__(self, node_names: list[str], paths: list[list[int]], num_experts: int, node_dim: int,
                 lstm_dim: int, use_tree: bool = True, flat: nn.Embedding | None = None,
                 node_init_std: float = 1.0) -> None:
        super().__init__()
        self.node_names = list(node_names)
        self.depth = max(len(p) for p in paths)
        pad = [p + [p[-1]] * (self.depth - len(p)) for p in paths]
        self.register_buffer("paths", torch.tensor(pad, dtype=torch.long))  # [S, H]
        self.register_buffer("seen", torch.zeros(len(node_names), dtype=torch.bool))  # saved with the model
        self.use_tree = use_tree
        if use_tree:
            self.nodes = nn.Embedding(len(node_names), node_dim)
            nn.init.normal_(self.nodes.weight, std=node_init_std)
            self.lstm = nn.LSTM(node_dim, lstm_dim, batch_first=True)
        else:  # the flat scenario embedding (shared with ShareInput's c when given)
            self.flat = flat if flat is not None else nn.Embedding(len(paths), lstm_dim)
            lstm_dim = self.flat.embedding_dim
        # W_i depends only on layer i (eq. 6); zero init = uniform gates at the start
        self.gates = nn.ModuleList(nn.Linear(lstm_dim, num_experts) for _ in range(self.depth))
        for g in self.gates:
            nn.init.zeros_(g.weight)
            nn.init.zeros_(g.bias)
        self.out_dim = lstm_dim

    def effective_paths(self, scenarios: Tensor) -> Tensor:
        """[S'] -> [S', H] node indices; unseen nodes replaced by their nearest seen ancestor (eval only)."""
        p = self.paths[scenarios]
        if self.training or not bool(self.seen.any()):
            return p
        seen = self.seen[p]
        pos = torch.arange(p.shape[1], device=p.device).expand_as(p)
        last = torch.where(seen, pos, torch.full_like(pos, -1)).cummax(1).values
        return torch.gather(p, 1, torch.where(last >= 0, last, pos))

    def states(self, scenarios: Tensor) -> Tensor:
        """h_i^s for i = 1..H: [S'] -> [S', H, lstm_dim] (eq. 4; flat: the scenario embedding H times)."""
        if not self.use_tree:
            return self.flat(scenarios).unsqueeze(1).expand(-1, self.depth, -1)
        p = self.effective_paths(scenarios)
        if self.training:
            self.seen[p.reshape(-1)] = True
        h, _ = self.lstm(self.nodes(p))
        return h

    def gate_probs(self, h: Tensor) -> Tensor:
        """g_i(h_i^s) = softmax(W_i h_i^s) (eq. 6): [S', H, d] -> [S', H, n]."""
        return torch.stack([torch.softmax(g(h[:, i]), -1) for i, g in enumerate(self.gates)], 1)

    def forward(self, scenarios: Tensor) -> tuple[Tensor, Tensor]:
        h = self.states(scenarios)
        return self.gate_probs(h), h[:, -1]


class TowerExperts(nn.Module):
    """n parallel expert networks of H tower-shaped layers, every layer's output kept (f_i^k(x), sec. 3.3).

    Shapes:
        x: [B, in_dim] -> list over layers i of [B, n, dims[i]]
    """

    def __init__(self, n: int, in_dim: int, dims: list[int], dropout: float = 0.0) -> None:
        super().__init__()
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        d = in_dim
        for h in dims:
            bound = 1.0 / math.sqrt(d)  # nn.Linear's default init, per expert
            self.weights.append(nn.Parameter(torch.empty(n, d, h).uniform_(-bound, bound)))
            self.biases.append(nn.Parameter(torch.empty(n, h).uniform_(-bound, bound)))
            d = h
        self.dims = list(dims)
        self.dropout = dropout

    @torch.no_grad()
    def he_init_(self) -> None:
        """He-normal weights N(0, 2 / fan_in) and zero biases for every expert layer (``unisr.nn.init``)."""
        for w, b in zip(self.weights, self.biases, strict=True):
            w.normal_(0.0, math.sqrt(2.0 / w.shape[1]))
            b.zero_()

    def forward(self, x: Tensor) -> list[Tensor]:
        outs = []
        h = torch.relu(torch.einsum("bd,nde->bne", x, self.weights[0]) + self.biases[0])
        outs.append(h)
        for w, b in zip(self.weights[1:], self.biases[1:], strict=True):
            if self.dropout > 0:
                h = F.dropout(h, self.dropout, self.training)
            h = torch.relu(torch.einsum("bnd,nde->bne", h, w) + b)
            outs.append(h)
        return outs


class ViewAttention(nn.Module):
    """One view's L scenario-aware graph attention layers (eqs. 8-12) over the sampled neighbourhood.

    Layer l updates the nodes of levels 0..L-l from their children (GraphSAGE-style mini-batch order):
    α_j = softmax_j(LeakyReLU(a^T [u_i || u_j || c])) over the sampled neighbours (eq. 10), ũ_i = Σ_j α_j u_j
    (eq. 11), u_i <- LeakyReLU(W [u_i || ũ_i]) (eq. 12). A node without neighbours gets ũ = 0.

    Shapes:
        levels[k]: [B, W_k, d] (W_0 = 1), masks[k]: [B, W_{k+1}] bool, c: [B, dc] -> [B, d]
        attention(center [B, W, d], children [B, W, f, d], mask [B, W, f], c [B, dc], layer) -> [B, W, f]
    """

    def __init__(self, dim: int, context_dim: int, layers: int) -> None:
        super().__init__()
        self.att = nn.ModuleList(nn.Linear(2 * dim + context_dim, 1, bias=False) for _ in range(layers))
        self.upd = nn.ModuleList(nn.Linear(2 * dim, dim) for _ in range(layers))
        self.dim = dim

    def attention(self, center: Tensor, children: Tensor, mask: Tensor, c: Tensor, layer: int) -> Tensor:
        d = self.dim
        w = self.att[layer].weight[0]  # a^T [u_i || u_j || c] = a_i·u_i + a_j·u_j + a_c·c
        s = (center @ w[:d]).unsqueeze(-1) + children @ w[d:2 * d] + (c @ w[2 * d:]).view(-1, 1, 1)
        s = F.leaky_relu(s, 0.2).masked_fill(~mask, float("-inf"))
        alpha = torch.softmax(s, -1)
        return torch.where(mask, alpha, torch.zeros_like(alpha))  # rows without neighbours: all zero

    def forward(self, levels: list[Tensor], masks: list[Tensor], c: Tensor) -> Tensor:
        h = levels
        for layer in range(len(self.att)):
            nxt = []
            for k in range(len(h) - 1):
                center, below = h[k], h[k + 1]
                b, w, _ = center.shape
                f = below.shape[1] // w
                children = below.reshape(b, w, f, self.dim)
                alpha = self.attention(center, children, masks[k].reshape(b, w, f), c, layer)
                agg = (alpha.unsqueeze(-1) * children).sum(2)
                nxt.append(F.leaky_relu(self.upd[layer](torch.cat([center, agg], -1)), 0.2))
            h = nxt
        return h[0][:, 0]


def expert_tower(first: int, depth: int) -> list[int]:
    """Tower-shaped widths: ``first`` shrinking linearly to half of it at layer H."""
    if depth == 1:
        return [first]
    return [max(1, round(first * (1 - 0.5 * i / (depth - 1)))) for i in range(depth)]


@register_model("treems", config=TreeMSConfig, needs=SHARE_NEEDS,
                paper="Niu et al., Heterogeneous Graph Augmented Multi-Scenario Sharing Recommendation with "
                      "Tree-Guided Expert Networks, WSDM'21",
                defaults=SHARE_DEFAULTS)
class TreeMS(SocialSampling, nn.Module):
    """Sharing recommendation: tree-guided expert networks with multi-view social graph attention (TreeMS).

    Shapes:
        batch (with a ``SocialSubgraph``, ``graph:social``) -> {"click": [B] logits, "gates": [B, H, n]}
        scenario_representations() -> [S, lstm_dim] (h_H^s of every scenario, fig. 9b)
    """

    def __init__(self, inp: ShareInput, tree: TreeContext, experts: list[int], num_experts: int,
                 hidden: list[int], fanouts: list[int], *, use_graph: bool = True, use_inconsistency: bool = True,
                 gamma: float = 0.1, dropout: float = 0.0, context_in_x: bool = True) -> None:
        super().__init__()
        if len(experts) != tree.depth:
            raise ValueError(f"expert_dims has {len(experts)} layers; the scenario tree has depth {tree.depth}")
        if any(b > a for a, b in zip(experts[:-1], experts[1:], strict=False)):
            raise ValueError(f"expert_dims must not grow with depth (tower-shaped), got {experts}")
        self.input, self.tree = inp, tree
        self.views = list(inp.views)
        self.use_graph = use_graph and bool(self.views)
        self.use_inconsistency, self.gamma = use_inconsistency, gamma
        du = inp.user_dim
        # c (eq. 3) = h_H^s: the scenario's full-path state (flat: the scenario embedding)
        self.context_dim = tree.out_dim
        if self.use_graph:
            self.gat = nn.ModuleList(ViewAttention(du, self.context_dim, len(fanouts)) for _ in self.views)
        user_dim = du * len(self.views) if self.use_graph else du  # eq. 13: views concatenated
        self.context_in_x = context_in_x
        self.x_dim = 2 * user_dim + inp.t_dim + (self.context_dim if context_in_x else 0)
        self.experts = TowerExperts(num_experts, self.x_dim, experts, dropout)
        self.mlp = MLP(sum(experts), hidden, dropout=dropout)  # eq. 7's MLPs
        self.predict = nn.Linear(self.mlp.out_dim, 1)  # p(.), shared by all scenarios
        self.depth = len(fanouts)

    @classmethod
    def from_config(cls, schema: FeatureSchema, cfg: TreeMSConfig) -> TreeMS:
        names, paths = tree_vocabulary(schema)
        inp = ShareInput.from_config(schema, cfg)
        tree = TreeContext(names, paths, cfg.num_experts, cfg.node_dim, cfg.lstm_dim, cfg.use_tree,
                           flat=inp.scenario_emb, node_init_std=cfg.node_init_std)
        dims = cfg.expert_dims if cfg.expert_dims is not None else expert_tower(cfg.expert_dim, tree.depth)
        model = cls(inp, tree, dims, cfg.num_experts, cfg.hidden, cfg.fanouts, use_graph=cfg.use_graph,
                    use_inconsistency=cfg.use_inconsistency, gamma=cfg.gamma, dropout=cfg.dropout,
                    context_in_x=cfg.context_in_x)
        return init_relu_stacks(model, cfg.init)

    def scenario_representations(self) -> Tensor:
        with torch.no_grad():
            was = self.tree.training
            self.tree.eval()
            h = self.tree.states(torch.arange(self.tree.paths.shape[0], device=self.tree.paths.device))[:, -1]
            self.tree.train(was)
        return h

    def graph_user(self, sub: SocialSubgraph, role: str, seed: Tensor, c: Tensor) -> Tensor:
        """u_i = concat_r u_{i,r}^L (eqs. 8-13). seed [B, du] -> [B, V * du]."""
        out = []
        for v, gat in zip(self.views, self.gat, strict=True):
            hops = sub.neighbourhood(v, role).hops[: self.depth]
            if len(hops) < self.depth:
                raise ValueError(f"TreeMS has {self.depth} graph layers; batch.subgraph has {len(hops)} hop(s)")
            levels = [seed.unsqueeze(1)] + [self.input.users(h.feat) for h in hops]
            out.append(gat(levels, [h.mask for h in hops], c))
        return torch.cat(out, -1)

    def expert_input(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """x of eq. 3 and the per-sample gates of eq. 6: batch -> (x [B, x_dim], gates [B, H, n])."""
        sub = self.social(batch)
        parts = self.input(batch, type(self).__name__)
        uniq, inv = torch.unique(batch.scenario_id, return_inverse=True)
        gates_s, c_s = self.tree(uniq)  # per scenario present, gathered per sample
        gates, c = gates_s[inv], c_s[inv]
        u, v = parts.u, parts.v
        if self.use_graph:
            u = self.graph_user(sub, "src", u, c)
            v = self.graph_user(sub, "dst", v, c)
        x = torch.cat([u, v, parts.t, c] if self.context_in_x else [u, v, parts.t], 1)  # eq. 3
        return x, gates

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        x, gates = self.expert_input(batch)
        return {"click": gated_tower_logit(self.experts, self.mlp, self.predict, x, gates), "gates": gates}

    def extra_losses(self, batch: Batch, outputs: dict[str, Tensor]) -> dict[str, Tensor]:
        """γ · L_aux (eq. 15, averaged over the batch's samples)."""
        if not self.use_inconsistency or self.gamma <= 0:
            return {}
        gates = outputs.get("gates")
        if gates is None:
            uniq, inv = torch.unique(batch.scenario_id, return_inverse=True)
            gates = self.tree(uniq)[0][inv]
        return {"inconsistency": self.gamma * inconsistency_loss(gates)}


def gated_tower_logit(experts: TowerExperts, mlp: nn.Module, predict: nn.Module, x: Tensor, gates: Tensor) -> Tensor:
    """Eqs. 5 and 7: every layer's expert outputs mixed by that layer's gate, z_1..z_H concatenated, MLPs, p(.).

    Shapes:
        x [B, in_dim], gates [B, H, n] -> logits [B]
    """
    f = experts(x)
    z = [torch.einsum("bn,bnd->bd", gates[:, i], fi) for i, fi in enumerate(f)]  # eq. 5
    return predict(mlp(torch.cat(z, 1))).squeeze(1)  # eq. 7


def inconsistency_loss(gates: Tensor) -> Tensor:
    """Eq. 15, L_aux = -Σ_i Σ_k Σ_{k'>k} g_i^k g_i^{k'}, averaged over samples.

    Σ_{k<k'} g^k g^{k'} = ((Σ_k g^k)^2 - Σ_k (g^k)^2) / 2. Shapes: gates [B, H, n] -> scalar.
    """
    pair = (gates.sum(-1).pow(2) - gates.pow(2).sum(-1)) / 2
    return -pair.sum(-1).mean()
