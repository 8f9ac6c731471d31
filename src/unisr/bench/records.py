"""The record store: finished runs kept in git (``metrics.json``, ``config.yaml``) with a ``record.json`` key,
found by that key wherever they lie in a suite's record folder; and the stale-run check of a run folder.

A key is ``{"row", "model", "sets", "seed", "data", "budget", "inputs"}``: the matrix row's name, the registered
model, every override (``key=value`` strings as the config reads them; order and repeats do not matter), the
training seed, the :func:`~unisr.bench.fingerprint.data_fingerprint`, the training budget the config resolved to
(:data:`BUDGET_KEYS`) and its input version and position-bias switch (:func:`inputs_of`; a key without them is
a record made before, :data:`INPUTS_BEFORE_KEY`). Folder names carry none of it: a record lies in ``<root>/<row slug>/seed<k>-<hash>/``.

Shapes:
    (no tensors) key dict -> record folder
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

# what a record keeps of a run: enough for every table and claim of a report (not the weights)
RECORD_FILES = ("metrics.json", "config.yaml")
# the training budget a record's key states, as resolved in its config (section, key)
BUDGET_KEYS = (("train", "epochs"), ("train", "max_steps_per_epoch"), ("train", "patience"))


# what a record made before the key carried the inputs was trained with (issue 31): input version 1, no position
# bias; a key without "inputs" reads as this
INPUTS_BEFORE_KEY = {"version": 1, "position_bias": "off"}


def budget_of(config: dict) -> dict:
    """The training budget of a resolved config (``RunConfig.model_dump()`` or a run's ``config.yaml``)."""
    return {f"{sec}.{k}": (config.get(sec) or {}).get(k) for sec, k in BUDGET_KEYS}


def model_inputs(config: dict) -> dict:
    """The ``models.registry.ADDED_LATER`` values a resolved config's model trains with (its config class's
    defaults unless overridden; the match parts only with ``model.match``); {} for a model without them."""
    from unisr.models.registry import MATCH_PARTS, added_later, get_model_info

    model = dict(config.get("model") or {})
    keys = added_later(model.get("name"))
    if not keys:
        return {}
    params = get_model_info(model["name"]).config.model_validate({k: v for k, v in model.items() if k != "name"})
    if not getattr(params, "match", False):
        keys = tuple(k for k in keys if k not in MATCH_PARTS)
    return {k: getattr(params, k) for k in keys}


def inputs_of(config: dict) -> dict:
    """The input version and the position-bias switch of a resolved config, and its model's
    ``ADDED_LATER`` values (:func:`model_inputs`): defaults that change what a run means without any ``--set``
    (``data.inputs.version``, ``train.position_bias``, ``model.pair_mode``, ...), so they belong to the key."""
    inputs = ((config.get("data") or {}).get("inputs") or {})
    return {"version": inputs.get("version", 1), "position_bias": (config.get("train") or {}).get("position_bias", "off"),
            **model_inputs(config)}


def effective(key: dict) -> str:
    """A record key as the config sees its overrides (``config.parse_set``: the last value of each key wins,
    order does not matter: ``--set a=1 --set b=2`` and ``--set b=2 --set a=1`` are the same run), canonical; a
    key made before its model's ``models.registry.ADDED_LATER`` keys were keyed reads as their earlier values."""
    from unisr.models.registry import ADDED_LATER, MATCH_PARTS, added_later
    from unisr.pipeline.config import parse_set

    sets = parse_set(list(key.get("sets", [])))
    inputs = dict(key.get("inputs") or INPUTS_BEFORE_KEY)
    match = str((sets.get("model") or {}).get("match", False)).lower() == "true"
    for k in added_later(key.get("model")):
        if k not in inputs and (match or k not in MATCH_PARTS):
            inputs[k] = ADDED_LATER[k]
    return json.dumps({**key, "inputs": inputs, "sets": sets}, sort_keys=True, default=str)


def slug(name: str) -> str:
    """A row name as a path without spaces or commas: ``srjgraph width 10,4`` -> ``srjgraph-width-10-4``."""
    return "/".join(re.sub(r"[^A-Za-z0-9_.+-]+", "-", part).strip("-") or "_" for part in name.split("/"))


def has_model(run_dir: Path | str) -> bool:
    """The run folder holds trained weights (a recorded run keeps only its metrics and config)."""
    return (Path(run_dir) / "model.safetensors").exists()


def portable_sets(sets: list[str], out: Path) -> list[str]:
    """A record key's overrides without this machine's out folder: a suite builds its graph from the data into
    ``<out>/graph`` (same data fingerprint, same graph), so ``data.graph_dir=<out>/graph`` matches a record made
    under any out folder."""
    own = f"data.graph_dir={Path(out) / 'graph'}"
    return ["data.graph_dir=<out>/graph" if s == own else s for s in sets]


class RecordStore:
    """The records under ``root`` (one folder per suite), indexed by :func:`effective` key."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self._index: dict[str, Path] | None = None
        self._data: set[str] = set()

    def _build(self) -> dict[str, Path]:
        if self._index is None:
            self._index = {}
            for f in sorted(self.root.rglob("record.json")) if self.root.is_dir() else ():
                key = json.loads(f.read_text())
                self._data.add(key.get("data", ""))
                if (f.parent / "metrics.json").exists():
                    self._index[effective(key)] = f.parent
        return self._index

    def fingerprints(self) -> set[str]:
        """The data fingerprints of every record."""
        self._build()
        return set(self._data)

    def find(self, key: dict) -> Path | None:
        """The folder of the record with this key, or None."""
        return self._build().get(effective(key))

    def save(self, run_dir: Path, key: dict) -> Path:
        """Copy a finished run's :data:`RECORD_FILES` into a new record with ``key``; returns its folder."""
        index = self._build()
        canon = effective(key)
        dest = self.root / slug(key["row"]) / f"seed{key['seed']}-{hashlib.sha256(canon.encode()).hexdigest()[:8]}"
        dest.mkdir(parents=True, exist_ok=True)
        for f in RECORD_FILES:
            shutil.copyfile(Path(run_dir) / f, dest / f)
        (dest / "record.json").write_text(json.dumps(key, indent=1) + "\n")
        index[canon] = dest
        self._data.add(key.get("data", ""))
        return dest


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


# config keys that change no result: where the data lies, whether a progress bar is drawn
NOT_RESULT_KEYS = {"data_path", "train.progress"}


def stale_run(run_dir: Path, want: dict) -> list[str]:
    """How a finished run folder's ``config.yaml`` differs from ``want`` (the resolved config this row would
    train with, ``model_dump(mode="json")``; keys in both: a key added to the code since is not a difference),
    as ``key: run X, row Y`` lines. A suite resumed in an out folder whose runs were trained with other overrides
    (another monitor, another budget) must not read them back as this row's result."""
    import yaml

    cfg_file = run_dir / "config.yaml"
    if not cfg_file.exists():
        return []
    have = _flat(yaml.safe_load(cfg_file.read_text()) or {})
    want = _flat(want)
    return [f"{k}: run {have[k]!r}, row {want[k]!r}" for k in sorted(have.keys() & want.keys())
            if k not in NOT_RESULT_KEYS and have[k] != want[k]]
