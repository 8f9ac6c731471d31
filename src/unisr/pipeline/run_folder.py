"""Read a trained run folder back (CONTRACT.md: config.yaml, model.safetensors, encoders/) without training
data and without unpickling anything; used by evaluation, the suites and serving. Also the checks of a run
folder a command is about to resume (``check_resume_config``, ``check_checkpoint``):
each problem is a ``RunFolderError`` naming the file and what is wrong (the CLI exits 2 on it).

Shapes:
    load_run(run) -> (RunConfig, FeatureEncoder, nn.Module in eval mode); open_run adds the Pipeline;
    score_split(run) -> {"event_id": [N], "prob": [N]}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import yaml
from pydantic import ValidationError
from safetensors.torch import load_model

from unisr.data.features import FeatureEncoder
from unisr.models.registry import ADDED_LATER, added_later, build_model
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
    """The resolved config a run trained with (an older run's model keys completed with the values it trained
    with, ``models.registry.ADDED_LATER``)."""
    path = Path(run) / "config.yaml"
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise RunFolderError(f"{path}: missing (not a run folder written by `unisr train`)") from None
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise RunFolderError(f"{path}: not parseable YAML ({_first_line(e)})") from None
    model = raw.get("model") if isinstance(raw, dict) else None
    if isinstance(model, dict):
        raw["model"] = {**{k: ADDED_LATER[k] for k in added_later(model.get("name"))}, **model}
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


# ------------------------------------------------------------------------ a run opened over its dataset (issue 37)
def open_run(run: str | Path, data: str | Path | None = None, *, graph_dir: str | Path | None = None):  # noqa: ANN201
    """``load_run`` plus the run's ``Pipeline`` over ``data`` (default: the dataset it trained on,
    ``config.yaml``'s ``data_path``) with the data gate opened as evaluation opens it; ``graph_dir`` replaces
    ``data.graph_dir`` (a serving bundle's graph snapshot). The one opener serving and per-event scoring share.
    Returns (cfg, encoder, net, pipe)."""
    from unisr.data.gate import load_spec, open_gate
    from unisr.pipeline.pipeline import Pipeline

    cfg, encoder, net = load_run(run)
    data = Path(data if data is not None else cfg.data_path or "")
    if not (data / "dataset.yaml").is_file():
        raise RunFolderError(f"{Path(run) / 'config.yaml'}: data_path {str(data)!r} is not a canonical dataset "
                             "(no dataset.yaml); pass the dataset explicitly")
    if graph_dir is not None:
        cfg = cfg.model_copy(update={"data": cfg.data.model_copy(update={"graph_dir": str(graph_dir)})})
    gate = open_gate(data, load_spec(data))
    gate.enforce(cfg.data.on_bad_rows)
    return cfg, encoder, net, Pipeline.open(cfg, data, encoder)


@torch.no_grad()
def score_split(run: str | Path, data: str | Path | None = None, split: str = "test",
                task: str = "click") -> dict[str, Any]:
    """Per-event probabilities of a ranking run on ``split``, computed as ``evaluate_model`` computes them
    (``sigmoid(model(batch)[task])`` over ``pipe.batches(split)``): {"event_id": [N] int64, "prob": [N] float32}.
    The reference the serving parity test compares ``/v1/rank`` against."""
    import numpy as np

    _, _, net, pipe = open_run(run, data)
    eids, probs = [], []
    for b in pipe.batches(split):
        eids.append(b.event_id.numpy())
        probs.append(torch.sigmoid(net(b)[task]).numpy())
    return {"event_id": np.concatenate(eids), "prob": np.concatenate(probs).astype(np.float32)}
