"""Suite results by row, task and seed: what a suite's tables and paired claims read (``verdicts.compare`` pairs
two rows by seed).

Shapes:
    (no tensors) run metrics -> {(row, task): {seed: AUC}}
"""

from __future__ import annotations

from unisr.bench.verdicts import Comparison, compare
from unisr.evaluate.stats import mean_std


class TaskResults:
    """Per row and task: the test AUC (or ``metric``: any key of a run's per-scenario block, e.g. ``hr@100``) of
    each seed (and the oracle AUC of ``oracle_row``'s scenarios).

    ``tasks``: task name -> scenario. A run named ``<row>/<task>`` is that row's single-task run, a run named
    ``<row>`` has every task it was trained on (a joint model)."""

    def __init__(self, runs: list[dict], tasks: dict[str, str], seeds: int = 0, oracle_row: str = "",
                 metric: str = "auc") -> None:
        self.seeds = seeds  # rows with fewer finished seeds show their n
        self.tasks = tasks
        self.auc: dict[tuple[str, str], dict[int, float]] = {}
        self.oracle: dict[str, list[float]] = {t: [] for t in tasks}
        for r in runs:
            name = r["run_name"]
            seed = int(r.get("run_seed", r.get("seed", 0)))
            for task, scen in tasks.items():
                m = r.get("scenarios", {}).get(scen)
                if m is None:
                    continue
                key = name.rsplit("/", 1)[0] if "/" in name else name
                if "/" in name and not name.endswith(f"/{task}"):
                    continue
                if metric not in m:
                    continue
                self.auc.setdefault((key, task), {})[seed] = m[metric]
                if m.get("oracle_auc") is not None and key == oracle_row:
                    self.oracle[task].append(m["oracle_auc"])

    def by_seed(self, name: str, task: str) -> dict[int, float]:
        """``{seed: AUC}`` of every finished seed (``verdicts.compare`` pairs two rows by seed)."""
        return self.auc.get((name, task), {})

    def get(self, name: str, task: str) -> list[float]:
        """The AUCs of every finished seed, in seed order."""
        d = self.by_seed(name, task)
        return [d[s] for s in sorted(d)]

    def paired(self, a: str, b: str, task: str) -> tuple[list[float], list[float], list[int]]:
        """The AUCs of ``a`` and ``b`` on the seeds both finished (a paired test compares the same seeds)."""
        da, db = self.by_seed(a, task), self.by_seed(b, task)
        seeds = sorted(da.keys() & db.keys())
        return [da[s] for s in seeds], [db[s] for s in seeds], seeds

    def vs(self, a: str, b: str, task: str, require_test: bool = False) -> Comparison:
        """``verdicts.compare`` of row ``a`` over row ``b`` on ``task``, paired by seed."""
        return compare(self.by_seed(a, task), self.by_seed(b, task), require_test=require_test)

    def mean(self, name: str, task: str) -> float:
        return mean_std(self.get(name, task))[0]

    def has(self, name: str) -> bool:
        return all(self.get(name, t) for t in self.tasks)
