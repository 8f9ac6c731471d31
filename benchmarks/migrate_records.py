"""One-off migration (issue 30): the suite records from ``docs/benchmarks/<suite>/record*/<row>/seed<k>/`` (the
budget in the folder name: ``record_e16``, ``record_e16_adagrad``; spaces in row names) into one folder per suite,
``benchmarks/records/<suite>/<row slug>/seed<k>-<key hash>/``, found by key (``unisr.bench.records``).

Each key gains what only the old path said: ``row`` (the matrix row's name) and ``budget`` (the training budget
its ``config.yaml`` resolved to); ``metrics.json`` and ``config.yaml`` move unchanged. Then every record is looked
up by its key in the new folder and must come back as itself; the counts are printed.

    .venv/bin/python benchmarks/migrate_records.py [--src docs/benchmarks] [--dest benchmarks/records]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
from pathlib import Path

import yaml

from unisr.bench.records import RECORD_FILES, RecordStore, budget_of, effective, slug

OLD = re.compile(r"^record(_\w+)?$")


def old_records(src: Path) -> list[tuple[str, Path, str]]:
    """(suite, record folder, row name) of every old record under ``src/<suite>/record*/``."""
    out = []
    for rec in sorted(src.glob("*/record*/**/record.json")):
        parts = rec.relative_to(src).parts  # suite, record*, row..., seed<k>, record.json
        if OLD.match(parts[1]) and re.fullmatch(r"seed\d+", parts[-2]):
            out.append((parts[0], rec.parent, "/".join(parts[2:-2])))
    return out


def migrate(src: Path, dest: Path) -> dict[str, int]:
    moved: dict[str, int] = {}
    keys: dict[str, dict[str, Path]] = {}
    for suite, folder, row in old_records(src):
        key = json.loads((folder / "record.json").read_text())
        key = {"row": row, **{k: v for k, v in key.items() if k != "row"}}
        key["budget"] = budget_of(yaml.safe_load((folder / "config.yaml").read_text()))
        canon = effective(key)
        if canon in keys.setdefault(suite, {}):
            raise SystemExit(f"{folder} and {keys[suite][canon]} have the same key: not migrated")
        new = dest / suite / slug(row) / f"{folder.name}-{hashlib.sha256(canon.encode()).hexdigest()[:8]}"
        new.mkdir(parents=True, exist_ok=True)
        for f in RECORD_FILES:
            shutil.move(folder / f, new / f)
        (new / "record.json").write_text(json.dumps(key, indent=1) + "\n")
        (folder / "record.json").unlink()
        keys[suite][canon] = new
        moved[suite] = moved.get(suite, 0) + 1
    for suite, by_key in keys.items():  # every record found by its key, as itself
        store = RecordStore(dest / suite)
        for path in by_key.values():
            assert store.find(json.loads((path / "record.json").read_text())) == path, path
    for d in sorted(src.glob("*/record*"), key=lambda p: -len(p.parts)):  # the emptied old folders
        for sub in sorted(d.rglob("*"), key=lambda p: -len(p.parts)):
            if sub.is_dir() and not any(sub.iterdir()):
                sub.rmdir()
        if d.is_dir() and not any(d.iterdir()):
            d.rmdir()
    return moved


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", type=Path, default=Path("docs/benchmarks"))
    ap.add_argument("--dest", type=Path, default=Path("benchmarks/records"))
    a = ap.parse_args()
    moved = migrate(a.src, a.dest)
    files = sum(len(list((a.dest / s).rglob("*.*"))) for s in moved)
    spaces = [p for p in a.dest.rglob("*") if " " in p.name]
    print(f"moved {sum(moved.values())} records ({', '.join(f'{s} {n}' for s, n in sorted(moved.items()))}); "
          f"{files} files under {a.dest}; every key found as its record; {len(spaces)} paths with spaces")


if __name__ == "__main__":
    main()
