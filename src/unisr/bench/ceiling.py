"""The observable ceiling beside a suite's models: the feature-engineered GBDT of
``benchmarks/observable_ceiling.py`` on the same data (matched by data fingerprint), per scenario, with and
without position, next to the oracle.

Shapes:
    (no tensors) ceiling file + dataset + scenario names -> [ReportTable] (empty if none)
"""

from __future__ import annotations

import json
from pathlib import Path

from unisr.bench.fingerprint import data_fingerprint
from unisr.bench.report import ReportTable

CEILING_FILE = Path("benchmarks/results/observable-ceiling.json")


def load_ceiling(fingerprint: str, path: Path = CEILING_FILE) -> dict[str, dict] | None:
    """Per scenario the ceiling file's results, if the file exists and was measured on data ``fingerprint``."""
    try:
        raw = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    if raw.get("data") != fingerprint:
        return None
    return raw.get("scenarios") or None


def ceiling_tables(data: Path, scenarios: list[str], path: Path = CEILING_FILE) -> list[ReportTable]:
    """The ceiling of ``scenarios`` on dataset ``data`` (a name missing from the file is left out) as one report
    table, or no table when the file was measured on other data or has none of them."""
    found = load_ceiling(data_fingerprint(data), path)
    if not found:
        return []
    rows = []
    for s in scenarios:
        r = found.get(s)
        if r is None:
            continue
        rows.append([s, f"{r['auc_no_position']:.4f}", f"{r['auc_position']:.4f}", f"{r['oracle_auc']:.4f}",
                     f"{r['events']['test']:,} / {r['test_clicks']:,}"])
    if not rows:
        return []
    return [ReportTable(
        "Observable ceiling: a GBDT on hand-made features from the same columns (benchmarks/observable_ceiling.py)",
        ["scenario", "GBDT test AUC, no position", "with position", "oracle AUC", "test events / clicks"], rows,
        "The bar a deep model on the same inputs should reach; the models above are scored position-free, so "
        "compare them with the no-position column.")]
