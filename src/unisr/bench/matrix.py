"""The run matrix: rows (:class:`RunSpec`, typed :class:`Override` values) x seeds, trained or read back from a
run folder or the record store; the suite options every suite shares.

Overrides stay typed until the ``train_run`` boundary, where :meth:`Override.text` gives the ``key=value``
string the config parses (the same string a record key holds).

Shapes:
    (no tensors) rows x seeds -> one metrics dict per finished run
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from unisr.bench.records import RecordStore, budget_of, inputs_of, portable_sets, stale_run
from unisr.bench.registry import SuiteError

Scalar = str | int | float | bool | None


def _text(v: Scalar | tuple) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, tuple | list):
        return "[" + ",".join(_text(x) for x in v) + "]"
    if isinstance(v, float):
        s = repr(v)
        return s.replace("e", ".0e") if "e" in s and "." not in s else s  # YAML reads 1e-05 as a string
    return str(v)


@dataclass(frozen=True)
class Override:
    """One config override: ``key`` (dotted, e.g. ``model.user_widths``) and its value (a scalar, a tuple, or
    the raw text of a ``--set`` value as given on the command line)."""

    key: str
    value: Scalar | tuple = None

    @classmethod
    def parse(cls, item: str | Override) -> Override:
        """``"train.lr=0.01"`` -> Override("train.lr", "0.01") (the value's text kept as given)."""
        if isinstance(item, Override):
            return item
        key, eq, raw = item.partition("=")
        if not eq:
            raise SuiteError(f"--set {item!r}: expected key=value")
        return cls(key.strip(), raw)

    def text(self) -> str:
        """The ``key=value`` form the config parses (``config.parse_set``)."""
        return f"{self.key}={_text(self.value)}"


def overrides(items: Sequence[str | Override]) -> tuple[Override, ...]:
    return tuple(Override.parse(i) for i in items)


@dataclass(frozen=True)
class RunSpec:
    """One row of a suite's matrix: a display ``name`` (the run folder), the registered ``model`` and the
    ``overrides`` that make this row different from the others (an ablation, a width)."""

    name: str
    model: str
    overrides: tuple[Override, ...] = ()

    @property
    def sets(self) -> tuple[str, ...]:
        """The overrides as ``key=value`` strings (``train_run``'s and the record key's form)."""
        return tuple(o.text() for o in self.overrides)


def suite_options(sets: Sequence[str], defaults: dict) -> tuple[dict, list[Override]]:
    """Split ``--set`` entries: ``suite.<key>=<value>`` are options of the suite itself (YAML values, keys
    from ``defaults``; an unknown key is an error naming the known ones), the others go to every run.

    ``suite.train=false``: report the finished runs, train nothing; ``suite.record=DIR``: see :func:`run_matrix`;
    ``suite.publish=FILE``: also write the suite's benchmark output file (``unisr.bench.page``);
    ``suite.seeds_only=[k, ...]``: only those of the ``--seeds N`` seeds (spread one suite's seeds over
    machines); ``suite.rows_only=[name, ...]``: only those rows of the matrix (spread one seed's rows)."""
    import yaml

    opts = {"train": True, "record": "", "publish": "", "seeds_only": None, "rows_only": None, **defaults}
    rest = []
    for s in sets:
        if s.startswith("suite."):
            k, _, v = s[len("suite."):].partition("=")
            if k not in opts:
                raise SuiteError(f"--set suite.{k}: unknown; known: {', '.join(opts)}")
            opts[k] = yaml.safe_load(v)
        else:
            rest.append(Override.parse(s))
    return opts, rest


def invocation() -> str:
    """The ``unisr benchmark ...`` command line this process runs (a published figure's command)."""
    import shlex
    import sys

    argv = sys.argv
    return "unisr " + shlex.join(argv[argv.index("benchmark"):]) if "benchmark" in argv else "-"


def _as_list(v, kind):
    return None if v is None else [kind(x) for x in (v if isinstance(v, list) else [v])]


def _select(rows: list[RunSpec], seeds: int, seeds_only, rows_only) -> tuple[list[RunSpec], list[int]]:
    seeds_only = _as_list(seeds_only, int)
    if seeds_only is not None and not set(seeds_only) <= set(range(seeds)):
        raise SuiteError(f"suite.seeds_only={seeds_only}: not among the --seeds {seeds} seeds (0-{seeds - 1})")
    rows_only = _as_list(rows_only, str)
    if rows_only is not None:
        unknown = [n for n in rows_only if n not in {r.name for r in rows}]
        if unknown:
            raise SuiteError(f"suite.rows_only: {unknown} are not rows of this run; its rows: "
                             f"{', '.join(r.name for r in rows)}")
        rows = [r for r in rows if r.name in rows_only]
    return rows, [s for s in range(seeds) if seeds_only is None or s in seeds_only]


@dataclass
class _Matrix:
    """What every (row, seed) of one :func:`run_matrix` call shares."""

    data: Path
    out: Path
    sets: list[str]
    console: Console
    train_missing: bool
    store: RecordStore | None
    fp: str
    encoders: dict

    def key(self, row: RunSpec, sets: list[str], seed: int, budget: dict) -> dict:
        return {"row": row.name, "model": row.model, "sets": portable_sets(sets, self.out), "seed": seed,
                "data": self.fp, "budget": budget["budget"], "inputs": budget["inputs"]}

    def one(self, row: RunSpec, seed: int, budget: dict | None) -> dict | None:
        """The metrics of (row, seed): from its run folder, the record, or trained now (None: left out)."""
        from unisr.train.run import run_config, train_run

        sets = [*self.sets, *row.sets]
        run_dir = self.out / "runs" / row.name / f"seed{seed}"
        key = self.key(row, sets, seed, budget) if self.store is not None else {}
        rec = self.store.find(key) if self.store is not None else None
        if (run_dir / "metrics.json").exists():
            if (run_dir / "config.yaml").exists():
                want = run_config(row.model, self.data, sets=sets, seed=seed).model_dump(mode="json")
                stale = stale_run(run_dir, want)
                if stale:
                    raise SuiteError(f"{run_dir} was trained with another config than this row "
                                     f"({'; '.join(stale[:5])}): use another --out, or delete that folder")
            m = json.loads((run_dir / "metrics.json").read_text())
        elif rec is not None:
            run_dir, m = rec, json.loads((rec / "metrics.json").read_text())
        elif not self.train_missing:
            self.console.print(f"{row.name} seed {seed}: not run yet, left out of the report")
            return None
        else:
            m = train_run(row.model, self.data, run_dir, sets=sets, seed=seed, encoder_cache=self.encoders).metrics
            head = (f"test AUC {m['overall']['auc']:.4f} logloss {m['overall']['logloss']:.4f}"
                    if "auc" in m["overall"] else  # a matching run: its retrieval metrics at the smallest K
                    " ".join(f"{k} {v:.4f}" for k, v in m["overall"].items()
                             if k.split("@")[-1] == str(min(int(x.split("@")[1]) for x in m["overall"] if "@" in x))))
            self.console.print(f"{row.name} seed {seed}: {head} (best epoch {m['best_epoch']}, "
                               f"{m['train_seconds']:.0f} s)")
        if self.store is not None and rec is None:
            self.store.save(run_dir, key)
        m["run_name"], m["run_seed"], m["run_dir"] = row.name, seed, str(run_dir)
        return m


def _budget(row: RunSpec, data: Path, sets: list[str]) -> dict:
    """The budget and the inputs (``records.inputs_of``) of a row's resolved config, for its record key."""
    from unisr.train.run import run_config

    cfg = run_config(row.model, data, sets=[*sets, *row.sets], seed=0).model_dump(mode="json")
    return {"budget": budget_of(cfg), "inputs": inputs_of(cfg)}


def run_matrix(models: Sequence[str | RunSpec], data: Path, out: Path, seeds: int,
               sets: Sequence[str | Override], console: Console, train_missing: bool = True,
               record: Path | str | None = None, seeds_only: list[int] | None = None,
               rows_only: list[str] | None = None) -> list[dict]:
    """Train every (row, seed); reuse finished runs (their metrics.json) so a suite can be resumed. A finished
    run folder trained with another config than its row is an error naming the differences (``stale_run``).

    A row is a model name or a :class:`RunSpec`; each result carries ``run_name`` (the row's name),
    ``run_seed`` (its folder ``seed<k>``) and ``run_dir``. ``sets``: the overrides of every row.
    ``train_missing=False`` only collects the finished runs (a report of what is there, nothing trained).
    ``record``: a suite's record folder (kept in git, :class:`~unisr.bench.records.RecordStore`): each finished
    run's ``metrics.json`` and ``config.yaml`` are recorded with their key (row, model, overrides, seed, data
    fingerprint, budget); a run whose key matches a record is not trained again, so seeds accumulate across
    machines. A recorded run has no weights (``run_dir`` is the record folder; see ``records.has_model``).
    ``seeds_only``: only those seeds of ``range(seeds)`` (another one is an error); ``rows_only``: only the rows
    of those names (a name that is not a row of ``models`` is an error naming the rows)."""
    from unisr.bench.fingerprint import data_fingerprint

    out.mkdir(parents=True, exist_ok=True)  # the report goes here even when every run comes from the record
    store = RecordStore(record) if record else None
    fp = data_fingerprint(data) if store else ""
    other = store.fingerprints() - {fp} if store else set()
    if other:
        console.print(f"[yellow]record {record} holds runs on data {', '.join(sorted(other))}, not on this data "
                      f"({fp}): those runs are trained again here and kept apart. The simulator's output depends "
                      f"on the CPU's SIMD build of numpy/OpenBLAS; see docs/SIMULATOR.md for the environment that "
                      f"reproduces the recorded data.[/yellow]")
    text = [o.text() for o in overrides(sets)]
    rows = [row if isinstance(row, RunSpec) else RunSpec(row, row) for row in models]
    rows, seed_list = _select(rows, seeds, seeds_only, rows_only)
    mx = _Matrix(Path(data), out, text, console, train_missing, store, fp, {})
    results = []
    for row in rows:
        budget = _budget(row, mx.data, text) if store else None
        results += [m for seed in seed_list if (m := mx.one(row, seed, budget)) is not None]
    check_same_test_labels(results)
    return results


def check_same_test_labels(results: list[dict]) -> None:
    """Every run of a suite is tested on the same events, so each scenario's test size and positives must agree.

    A reused run folder or a record from another simulation of the "same" data (seen: a feed's test clicks
    2,394 vs 2,383 after an environment change, 2026-12-03) would otherwise enter the tables silently. Raises
    :class:`SuiteError` naming the runs that disagree with the most common count."""
    counts: dict[str, dict[tuple, list[str]]] = {}
    for r in results:
        for scen, v in r.get("scenarios", {}).items():
            if isinstance(v, dict) and "n" in v and "positives" in v:
                where = f"{r.get('run_dir', '?')}"
                counts.setdefault(scen, {}).setdefault((int(v["n"]), int(v["positives"])), []).append(where)
    bad = []
    for scen, groups in counts.items():
        if len(groups) < 2:
            continue
        common = max(groups, key=lambda k: len(groups[k]))
        for k, dirs in groups.items():
            if k != common:
                bad.append(f"scenario {scen}: {len(dirs)} run(s) have n={k[0]}, positives={k[1]} against "
                           f"n={common[0]}, positives={common[1]} in {len(groups[common])}: {', '.join(dirs[:5])}")
    if bad:
        raise SuiteError("runs were tested on different labels (a run or record from other data); delete "
                         "those folders and run again:\n" + "\n".join(bad))


def epoch_limit_note(runs: list[dict]) -> str:
    """One line for a report: how many runs had their best validation epoch at the last epoch allowed (still
    improving when the epoch budget ended, i.e. under-trained), by row name."""
    import yaml

    hit: dict[str, int] = {}
    total = 0
    for r in runs:
        cfg = Path(r.get("run_dir", "")) / "config.yaml"
        if not cfg.exists():
            continue
        total += 1
        epochs = int(yaml.safe_load(cfg.read_text())["train"]["epochs"])
        if int(r.get("best_epoch", -1)) >= epochs - 1:
            hit[r["run_name"]] = hit.get(r["run_name"], 0) + 1
    if not total:
        return "epoch budget: no run configs found"
    rows = ", ".join(f"{k} {v}" for k, v in hit.items())
    return (f"epoch budget: {sum(hit.values())} of {total} runs had their best validation epoch at the last epoch "
            f"allowed (still improving when stopped){': ' + rows if rows else ''}")
