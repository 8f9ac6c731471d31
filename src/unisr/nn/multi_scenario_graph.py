"""BOMGraph's multi-scenario graph encoder (Fan et al., CIKM'23, sec. 3.2, eqs. 4-5), on sampled metapath
trees (``graph.subgraph.MetapathTree``) whose nodes a caller embeds (``embed``: node type -> indices -> [n, D]).

    eq. 4  q = W_K GAT^intra_K(q^0, G_q^{intra,K}),  t = W_S GAT^intra_S(t^0, G_t^{intra,S})
                                                                  ``ScenarioQueryEncoder``
    eq. 5  i^{intra,o} = GAT^{intra,o}(i^0, G_i^{intra,o}) + GAT^{shared}(i^0, G_i^{intra,o})
           i^{inter,o} = GAT^{inter,o}(i^0, G_i^{inter,o})
           i = W [i^{inter,o} || i^{intra,o}]                      ``MultiScenarioItemEncoder``

``cross_scenario=False`` is the paper's "w/o CS" (table 3): no shared and no inter-scenario GAT, so each
scenario's item is its own intra-scenario GAT through W (BOMGraph "degrades to LasGNN").
``scenario_specific=False`` (with ``cross_scenario=False``) is one intra-scenario GAT for every scenario, items
and queries alike (MSGraph of table 2: the scenarios fused, no scenario-specific part). W is one matrix for
every scenario (eq. 5 writes no scenario index on it); its inputs are scenario-specific, so are its outputs.

Shapes:
    MultiScenarioItemEncoder(scenario, intra tree [B], inter tree [B] | None, embed) -> [B, dim]
    ScenarioQueryEncoder(scenario, tree [B], embed) -> [B, dim]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
from torch import Tensor, nn

from unisr.nn.metapath_gat import MetapathGAT, embed_tree

Embed = Mapping[str, Callable[[Tensor], Tensor]]


class MultiScenarioItemEncoder(nn.Module):
    """Eq. 5 per search scenario (the scenario names key the scenario-specific GATs).

    Shapes:
        forward(scenario: str, intra: MetapathTree [B], inter: MetapathTree [B] | None, embed) -> [B, dim]
    """

    def __init__(self, in_dim: int, dim: int, scenarios: Sequence[str], cross_scenario: bool = True,
                 heads: int = 1, scenario_specific: bool = True) -> None:
        super().__init__()
        if cross_scenario and not scenario_specific:
            raise ValueError("scenario_specific=False is the one fused intra-scenario encoder (MSGraph): it has "
                             "no cross-scenario part; set cross_scenario=False")
        self.scenarios = list(scenarios)
        self.cross_scenario = cross_scenario
        self.intra = nn.ModuleDict({o: MetapathGAT(in_dim, dim, heads) for o in self.scenarios}) \
            if scenario_specific else None
        self.fused = None if scenario_specific else MetapathGAT(in_dim, dim, heads)
        self.shared = MetapathGAT(in_dim, dim, heads) if cross_scenario else None
        self.inter = nn.ModuleDict({o: MetapathGAT(in_dim, dim, heads) for o in self.scenarios}) \
            if cross_scenario else None
        self.out = nn.Linear(2 * dim if cross_scenario else dim, dim)

    def forward(self, scenario: str, intra, inter, embed: Embed) -> Tensor:  # noqa: ANN001
        if scenario not in self.scenarios:
            raise KeyError(f"scenario {scenario!r} has no item encoder; encoders: {self.scenarios}")
        h = embed_tree(self.intra[scenario] if self.intra is not None else self.fused, intra, embed)
        if not self.cross_scenario:
            return self.out(h)
        h = h + embed_tree(self.shared, intra, embed)
        if inter is None:
            raise ValueError(f"scenario {scenario!r}: the cross-scenario encoder needs its inter-scenario tree")
        return self.out(torch.cat([embed_tree(self.inter[scenario], inter, embed), h], 1))


class ScenarioQueryEncoder(nn.Module):
    """Eq. 4: one intra-scenario GAT and one W per query scenario (keywords in K, triggers in S).

    Shapes:
        forward(scenario: str, tree: MetapathTree [B], embed) -> [B, dim]
    """

    def __init__(self, in_dim: int, dim: int, scenarios: Sequence[str], heads: int = 1,
                 scenario_specific: bool = True) -> None:
        super().__init__()
        self.scenarios = list(scenarios)
        keys = self.scenarios if scenario_specific else ["fused"]
        self.gat = nn.ModuleDict({o: MetapathGAT(in_dim, dim, heads) for o in keys})
        self.w = nn.ModuleDict({o: nn.Linear(dim, dim, bias=False) for o in keys})
        self.scenario_specific = scenario_specific

    def forward(self, scenario: str, tree, embed: Embed) -> Tensor:  # noqa: ANN001
        if scenario not in self.scenarios:
            raise KeyError(f"scenario {scenario!r} has no query encoder; encoders: {self.scenarios}")
        key = scenario if self.scenario_specific else "fused"
        return self.w[key](embed_tree(self.gat[key], tree, embed))

