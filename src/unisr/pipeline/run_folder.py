"""Read a trained run folder back (CONTRACT.md: config.yaml, model.safetensors, encoders/) without training
data and without unpickling anything; used by evaluation, the suites and serving. Also the checks of a run
folder a command is about to resume (``check_resume_config``, ``check_checkpoint``):
each problem is a ``RunFolderError`` naming the file and what is wrong (the CLI exits 2 on it).

Shapes:
    load_run(run) -> (RunConfig, FeatureEncoder, nn.Module in eval mode)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import yaml
from pydantic import ValidationError
from safetensors.torch import load_model

from unisr.data.features import FeatureEncoder
from unisr.models.registry import build_model
from unisr.pipeline.config import RunConfig

# config keys that may change on --resume (how long / how verbosely to train, not what is trained)
RESUMABLE_KEYS = {"train.epochs", "train.progress", "train.threads", "train.checkpoint_every", "train.patience",
                  "train.max_steps_per_epoch", "data.cache", "data.cache_max_rows", "data.on_bad_rows",
                  "data.graph_dir", "data_path", "dataset"}


class RunFolderError(ValueError):
    """A run folder (or the path given for one) is unusable; the message names the file and what is wrong."""


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}"[:300]


def read_config(run: str | Path) -> RunConfig:
    """The resolved config a run trained with."""
    path = Path(run) / "config.yaml"
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise RunFolderError(f"{path}: missing (not a run folder written by `unisr train`)") from None
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise RunFolderError(f"{path}: not parseable YAML ({_first_line(e)})") from None
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        raise RunFolderError(f"{path}: field {'.'.join(map(str, err['loc']))}: {err['msg']}") from None


def load_run(run: str | Path) -> tuple[RunConfig, FeatureEncoder, torch.nn.Module]:
    """Rebuild a trained model from its run folder (no training data needed)."""
    run = Path(run)
    cfg = read_config(run)
    try:
        encoder = FeatureEncoder.load(run / "encoders")
    except FileNotFoundError as e:
        raise RunFolderError(f"{run / 'encoders'}: missing or incomplete ({e.filename})") from None
    except Exception as e:  # noqa: BLE001 - any failure to read the saved encoders is a bad run folder
        raise RunFolderError(f"{run / 'encoders'}: unreadable ({_first_line(e)})") from None
    net = build_model(cfg.model_name, cfg.model_params, encoder.schema)
    weights = run / "model.safetensors"
    if not weights.is_file():
        raise RunFolderError(f"{weights}: missing")
    try:
        load_model(net, str(weights))
    except RuntimeError as e:  # missing / unexpected keys or size mismatches
        raise RunFolderError(f"{weights}: does not match {run / 'config.yaml'} ({_first_line(e)})") from None
    except Exception as e:  # noqa: BLE001 - safetensors' own errors (header too large, truncated file, ...)
        raise RunFolderError(f"{weights}: not a readable safetensors file ({_first_line(e)})") from None
    net.eval()
    return cfg, encoder, net


# ------------------------------------------------------------------------------------------ writing / resuming
def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(d, dict):
        out: dict[str, Any] = {}
        for k, v in d.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: d}


def check_resume_config(run: str | Path, cfg: RunConfig) -> None:
    """--resume: the run's recorded config must match ``cfg`` except the keys that only say how long to train."""
    path = Path(run) / "config.yaml"
    if not path.exists():
        return
    old = _flat(read_config(run).model_dump(mode="json"))
    new = _flat(cfg.model_dump(mode="json"))
    diff = [k for k in sorted(set(old) | set(new)) if k not in RESUMABLE_KEYS and old.get(k) != new.get(k)]
    if diff:
        shown = "; ".join(f"{k}: {old.get(k)!r} in the run, {new.get(k)!r} now" for k in diff[:5])
        raise RunFolderError(f"--resume: {path} does not match this run's config ({shown}"
                             f"{f'; and {len(diff) - 5} more' if len(diff) > 5 else ''})")


def check_checkpoint(path: str | Path, net: torch.nn.Module) -> None:
    """--resume: ``path`` must be a checkpoint ``unisr train`` wrote for a model shaped like ``net``."""
    path = Path(path)
    try:
        state = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as e:  # noqa: BLE001 - a foreign pickle, a truncated or corrupt file
        raise RunFolderError(f"{path}: not a unisr checkpoint (cannot be read with weights_only=True: "
                             f"{_first_line(e)}); delete it or train without --resume") from None
    need = {"next_epoch", "model", "optimizers", "callbacks"}
    if not isinstance(state, dict) or not need <= set(state):
        raise RunFolderError(f"{path}: not a unisr checkpoint (expected the keys {sorted(need)})")
    mine = net.state_dict()
    theirs = state["model"]
    if not isinstance(theirs, dict):
        raise RunFolderError(f"{path}: not a unisr checkpoint (its 'model' entry is not a state dict)")
    diffs = [f"{k} shape {tuple(theirs[k].shape)} in the checkpoint, {tuple(v.shape)} in the model"
             for k, v in mine.items() if k in theirs and hasattr(theirs[k], "shape")
             and tuple(theirs[k].shape) != tuple(v.shape)]
    diffs += [f"{k} missing from the checkpoint" for k in mine if k not in theirs]
    diffs += [f"{k} in the checkpoint, not in the model" for k in theirs if k not in mine]
    if diffs:
        raise RunFolderError(f"{path}: does not match the model of this config ({'; '.join(diffs[:3])}"
                             f"{f'; and {len(diffs) - 3} more' if len(diffs) > 3 else ''})")
