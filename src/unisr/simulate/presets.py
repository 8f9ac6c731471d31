"""The four presets: tiny (tests), small (the demo), medium, large (streamed in chunks of users).

Shapes:
    (no tensors) preset name -> SimConfig
"""

from __future__ import annotations

from typing import Any

from unisr.simulate.config import SimConfig

PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {
        "name": "sim-tiny",
        "n_events": 80_000,
        "catalog": {"n_items": 3_000, "branching": (6, 4, 5), "n_shops": 300, "queries_per_leaf": 12},
        "users": {"n_users": 2_000, "n_communities": 12},
        "scenarios": {"share": {"branching": [2, 2, 4], "traffic": 0.08}, "min_requests": 4},
    },
    "small": {
        "name": "sim-small",
        "n_events": 2_000_000,
        "catalog": {"n_items": 60_000, "branching": (10, 6, 8), "n_shops": 4_000},
        "users": {"n_users": 50_000, "n_communities": 40},
    },
    "medium": {
        "name": "sim-medium",
        "n_events": 20_000_000,
        "chunk_users": 60_000,
        "catalog": {"n_items": 300_000, "branching": (12, 8, 8), "n_shops": 20_000, "queries_per_leaf": 40},
        "users": {"n_users": 400_000, "n_communities": 80},
    },
    "large": {
        "name": "sim-large",
        "n_events": 200_000_000,
        "chunk_users": 40_000,
        "catalog": {"n_items": 1_000_000, "branching": (14, 8, 10), "n_shops": 60_000, "queries_per_leaf": 60},
        "users": {"n_users": 3_000_000, "n_communities": 160},
        "scenarios": {"candidates": 24},
    },
}


def preset_config(preset: str) -> SimConfig:
    if preset not in PRESETS:
        raise KeyError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    return SimConfig.model_validate(PRESETS[preset])
