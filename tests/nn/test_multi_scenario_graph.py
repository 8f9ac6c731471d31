"""BOMGraph's multi-scenario graph encoder (nn/multi_scenario_graph.py) on metapath trees sampled from the
tiny data's graph."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from unisr.graph.build import build_graph
from unisr.graph.samplers.metapath import MetapathSampler
from unisr.graph.subgraph import MetapathTree
from unisr.nn.multi_scenario_graph import MultiScenarioItemEncoder, ScenarioQueryEncoder


@pytest.fixture(scope="module")
def sampler(sim_dir: Path) -> MetapathSampler:
    return MetapathSampler(build_graph(sim_dir))


def _embed(sampler: MetapathSampler, d: int = 8) -> tuple[dict, nn.ModuleDict]:
    tables = nn.ModuleDict({t: nn.Embedding(n, d) for t, n in sampler.graph.num_nodes.items()
                            if t in ("item", "query", "trigger")})
    return {t: tables[t] for t in tables}, tables


def _starts(sampler: MetapathSampler, path: str, n: int = 64) -> torch.Tensor:
    rel = sampler.graph.rel(sampler.paths[path][0])
    deg = torch.from_numpy(rel.degree())
    return torch.nonzero(deg > 0).squeeze(1)[:n]


def test_item_encoder_on_sampled_trees_and_cs_switch(sampler: MetapathSampler) -> None:
    torch.manual_seed(0)
    names = sampler.graph.meta["scenarios"]
    kinds = dict(zip(sampler.graph.meta["scenario_kinds"], names, strict=False))
    k = kinds["search_text"]
    assert {"M_i^K", "M^{K-V-S}"} <= set(sampler.paths)
    items = _starts(sampler, "M_i^K")
    intra = MetapathTree.from_blocks(sampler.sample_path("M_i^K", items, seed=1))
    inter = MetapathTree.from_blocks(sampler.sample_path("M^{K-V-S}", items, seed=1))
    assert intra.node_types == ("item", "query", "item") and inter.node_types == ("item", "item", "item")
    assert bool(intra.mask1.any()) and bool(intra.mask2.any())
    embed, tables = _embed(sampler)
    enc = MultiScenarioItemEncoder(8, 16, [k]).eval()
    out = enc(k, intra, inter, embed)
    assert out.shape == (len(items), 16) and torch.isfinite(out).all()
    # the inter-scenario tree enters the vector; without CS it does not exist
    other = MetapathTree.from_blocks(sampler.sample_path("M^{K-V-S}", items, seed=2))
    assert not torch.allclose(enc(k, intra, other, embed), out)
    plain = MultiScenarioItemEncoder(8, 16, [k], cross_scenario=False).eval()
    assert plain.shared is None and plain.inter is None
    assert torch.allclose(plain(k, intra, inter, embed), plain(k, intra, other, embed))
    with pytest.raises(ValueError, match="inter-scenario tree"):
        enc(k, intra, None, embed)
    # gradients reach the node embeddings of sampled neighbours
    enc.train()
    enc(k, intra, inter, embed).sum().backward()
    assert tables["query"].weight.grad is not None and tables["query"].weight.grad.abs().sum() > 0


def test_query_encoder_per_scenario(sampler: MetapathSampler) -> None:
    torch.manual_seed(0)
    embed, _ = _embed(sampler)
    trig = _starts(sampler, "M_t^S")
    tree = MetapathTree.from_blocks(sampler.sample_path("M_t^S", trig, seed=0))
    assert tree.node_types == ("trigger", "item", "trigger")
    enc = ScenarioQueryEncoder(8, 16, ["S", "K"])
    out = enc("S", tree, embed)
    assert out.shape == (len(trig), 16)
    assert not torch.allclose(enc("K", tree, embed), out)  # each scenario its own GAT and W
    with pytest.raises(KeyError, match="no query encoder"):
        enc("V", tree, embed)
