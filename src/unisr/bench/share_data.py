"""What a dataset's share scenarios hold, for the treems suite: the leaves with their tree paths, the train
impressions per leaf, the head / long-tail split of figs. 5-6.

Shapes:
    (no tensors) dataset folder -> leaves, {leaf: impressions}; impressions -> (head, tail, head5, tail5)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def share_leaves(data: Path) -> list[tuple[str, list[str]]]:
    """(name, tree_path) of every share scenario, in scenario-id order."""
    from unisr.data.schema import DatasetSpec

    spec = DatasetSpec.load(data)
    return [(s.name, list(s.tree_path or [s.name])) for s in sorted(spec.scenarios, key=lambda s: s.id)
            if str(s.kind).endswith("share")]


def train_traffic(data: Path) -> dict[str, int]:
    """Impressions per scenario name in the TRAIN split (the split rule of the dataset)."""
    from unisr.data.reader import iter_row_groups
    from unisr.data.schema import DatasetSpec
    from unisr.data.split import SPLIT_CODES, SplitAssigner

    spec = DatasetSpec.load(data)
    assigner = SplitAssigner.for_dataset(data, spec.split)
    names = {s.id: s.name for s in spec.scenarios}
    counts: dict[int, int] = {}
    cols = ["event_id", "ts", "scenario_id"] + ([assigner.key_column] if assigner.key_column else [])
    for _, _, t in iter_row_groups(data, "events", cols):
        split_col = None
        if "split" in t.column_names:
            split_col = t["split"].to_numpy(zero_copy_only=False)
        codes = assigner.assign(t["event_id"].to_numpy(), t["ts"].to_numpy(), split_col,
                                t[assigner.key_column].to_numpy() if assigner.key_column else None)
        scen = t["scenario_id"].to_numpy()[codes == SPLIT_CODES["train"]]
        ids, n = np.unique(scen, return_counts=True)
        for i, c in zip(ids.tolist(), n.tolist(), strict=True):
            counts[i] = counts.get(i, 0) + c
    return {names[i]: c for i, c in counts.items() if i in names}


def head_tail(traffic: dict[str, int], leaves: list[str], test_ok: set[str], k: int = 5, tail_from: float = 0.8
              ) -> tuple[list[str], list[str], list[str], list[str]]:
    """Leaves ranked by train traffic: (head = the k busiest, long tail = the leaves after the first ``tail_from``
    of the train traffic (never the head), the k head leaves with a usable test split, the k quietest long-tail
    leaves with a usable test split)."""
    ranked = sorted(leaves, key=lambda s: (-traffic.get(s, 0), s))
    total = sum(traffic.get(s, 0) for s in ranked) or 1
    head = ranked[:k]
    tail, cum = [], 0
    for s in ranked:
        if cum >= tail_from * total and s not in head:
            tail.append(s)
        cum += traffic.get(s, 0)
    if not tail:
        tail = ranked[k:]
    head5 = [s for s in head if s in test_ok]
    tail5 = [s for s in reversed(tail) if s in test_ok][:k]
    return head, tail, head5, tail5
