"""The simulated marketplace: every scenario of the five papers at once, with the true click probability.

``simulate(preset, out, seed, overrides)`` writes a canonical dataset (CONTRACT.md); see docs/SIMULATOR.md.

Shapes:
    (no tensors) the package's public functions
"""

from unisr.simulate.api import SimulationSummary, resolve_config, simulate, simulate_config
from unisr.simulate.config import OverrideError, SimConfig, apply_overrides
from unisr.simulate.presets import PRESETS, preset_config

__all__ = [
    "PRESETS",
    "OverrideError",
    "SimConfig",
    "SimulationSummary",
    "apply_overrides",
    "preset_config",
    "resolve_config",
    "simulate",
    "simulate_config",
]
