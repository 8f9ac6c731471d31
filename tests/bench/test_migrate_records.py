"""The one-off records migration (``benchmarks/migrate_records.py``): old folders (budget in the folder name,
spaces in row names) into one folder per suite, keys gaining row and budget, every record found by its key."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import yaml

from unisr.bench.records import RecordStore

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "migrate_records.py"
_spec = importlib.util.spec_from_file_location("migrate_records", _PATH)
mig = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mig)


def _old(root: Path, folder: str, row: str, seed: int, epochs: int) -> dict:
    d = root / "srjgraph" / folder / row / f"seed{seed}"
    d.mkdir(parents=True)
    key = {"model": "srjgraph", "sets": [f"train.epochs={epochs}"], "seed": seed, "data": "fp"}
    (d / "record.json").write_text(json.dumps(key))
    (d / "metrics.json").write_text(json.dumps({"overall": {"auc": 0.6 + seed / 100}}))
    (d / "config.yaml").write_text(yaml.safe_dump({"train": {"epochs": epochs, "patience": 4}}))
    return key


def test_migration_moves_and_keys_every_record(tmp_path):
    src, dest = tmp_path / "docs", tmp_path / "records"
    a = _old(src, "record", "srjgraph width 10,4", 0, 2)
    b = _old(src, "record_e16", "srjgraph width 10,4", 0, 16)
    (src / "srjgraph" / "plot.png").write_bytes(b"png")
    assert mig.migrate(src, dest) == {"srjgraph": 2}
    assert not (src / "srjgraph" / "record").exists() and (src / "srjgraph" / "plot.png").exists()
    paths = sorted(p.parent for p in dest.rglob("record.json"))
    assert len(paths) == 2 and all(" " not in str(p) and "e16" not in str(p) for p in paths)
    store = RecordStore(dest / "srjgraph")
    for key, epochs in ((a, 2), (b, 16)):
        full = {"row": "srjgraph width 10,4", **key,
                "budget": {"train.epochs": epochs, "train.max_steps_per_epoch": None, "train.patience": 4}}
        found = store.find(full)
        assert found is not None and json.loads((found / "record.json").read_text()) == full
        assert yaml.safe_load((found / "config.yaml").read_text())["train"]["epochs"] == epochs
