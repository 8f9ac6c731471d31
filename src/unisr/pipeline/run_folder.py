"""Read a trained run folder back (CONTRACT.md: config.yaml, model.safetensors, encoders/) without training
data and without unpickling anything; used by evaluation, the suites and serving.

Shapes:
    load_run(run) -> (RunConfig, FeatureEncoder, nn.Module in eval mode)
"""

from __future__ import annotations

from pathlib import Path

import torch
import yaml
from safetensors.torch import load_model

from unisr.data.features import FeatureEncoder
from unisr.models.registry import build_model
from unisr.pipeline.config import RunConfig


def read_config(run: str | Path) -> RunConfig:
    """The resolved config a run trained with."""
    return RunConfig.model_validate(yaml.safe_load((Path(run) / "config.yaml").read_text()))


def load_run(run: str | Path) -> tuple[RunConfig, FeatureEncoder, torch.nn.Module]:
    """Rebuild a trained model from its run folder (no training data needed)."""
    run = Path(run)
    cfg = read_config(run)
    encoder = FeatureEncoder.load(run / "encoders")
    net = build_model(cfg.model_name, cfg.model_params, encoder.schema)
    load_model(net, str(run / "model.safetensors"))
    net.eval()
    return cfg, encoder, net
