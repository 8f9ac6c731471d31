"""Vectorised, seeded neighbour samplers returning padded per-hop blocks (``Blocks``)."""

from unisr.graph.samplers.blocks import Blocks
from unisr.graph.samplers.metapath import MetapathSampler, metapaths
from unisr.graph.samplers.social import MultiViewSocialSampler
from unisr.graph.samplers.target_aware import TargetAwareSampler
from unisr.graph.samplers.uniform import UniformSampler, uniform_khop

__all__ = ["Blocks", "MetapathSampler", "MultiViewSocialSampler", "TargetAwareSampler", "UniformSampler",
           "metapaths", "uniform_khop"]
