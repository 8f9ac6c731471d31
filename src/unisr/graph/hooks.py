"""Batch hooks: fill ``Batch.subgraph`` with a typed sampled subgraph (``unisr.graph.subgraph``).

A hook runs in the data pipeline (after a batch is collated, before the model), so models only embed the
indices they are given and never touch graphs or tables. A graph model declares the sampler it needs with
``Model.sampler_spec(cfg) -> TargetAwareSpec | SocialSpec`` from its validated config (the one source of the
sampler's settings); ``hook_for(spec, ...)`` builds the hook.

Shapes:
    hook(batch) -> batch with ``subgraph`` a TargetAwareSubgraph (graph:srjgraph) or SocialSubgraph (graph:social)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from unisr.data.features import FeatureEncoder
from unisr.data.loader import QueryTable
from unisr.graph.social_hook import SocialHook, SocialSpec
from unisr.graph.target_aware_hook import SRJGraphHook, TargetAwareSpec

SamplerSpec = TargetAwareSpec | SocialSpec

__all__ = ["SRJGraphHook", "SamplerSpec", "SocialHook", "SocialSpec", "TargetAwareSpec", "hook_for"]


def hook_for(spec: SamplerSpec, root: str | Path, encoder: FeatureEncoder, queries: QueryTable | None,
             graph_dir: str | Path, scenarios: Sequence[str] | None = None) -> SRJGraphHook | SocialHook:
    """The batch hook of a model's sampler spec, on the dataset's cached graph of its training window."""
    return spec.build(root, encoder, queries, graph_dir, scenarios)
