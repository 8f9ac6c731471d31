"""Benchmark suites: a matrix of models x datasets x seeds, one function each, registered by name."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from unisr.bench.published import SWR_MOVIELENS
from unisr.bench.report import Report, ReportTable, bar_plot, fmt, ttest_str
from unisr.evaluate.stats import mean_std


class SuiteError(ValueError):
    """The suite cannot run with what it was given (missing data ...); the message says what to do."""


SUITES: dict[str, Callable[..., dict]] = {}


def suite(name: str):
    def deco(fn):
        SUITES[name] = fn
        return fn

    return deco


DEFAULT_SHARED = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"

# Scenario-Wise Rec's MovieLens protocol (scripts/run_movielens_rank_multi_domain.py + CTRTrainer): one
# dense Adam over all parameters (embedding tables included), lr 1e-3, weight decay 1e-5, batch 4096, no
# learning-rate schedule (the script passes scheduler_params but no scheduler_fn), early stopping on
# validation AUC with patience 4 restoring the best weights. Their epoch budget is not published; we allow 50.
SWR_PROTOCOL = [
    "train.optimizer=adam", "train.lr=0.001", "train.weight_decay=0.00001", "data.batch_size=4096",
    "train.patience=4", "train.epochs=50", "train.monitor=auc", "model.sparse_grad=false",
]
SWR_MODELS = ["dnn", "shared_bottom", "mmoe", "ple", "star", "m2m", "apg"]


def ensure_movielens(data: Path | None, out: Path, console: Console) -> Path:
    """A canonical MovieLens-1M dataset: ``data`` if it is one, else imported from ``data`` (or the shared
    folder) into ``out/data``."""
    from unisr.data.importers.movielens import import_movielens

    if data is not None and (data / "dataset.yaml").exists():
        return data
    src = data or (DEFAULT_SHARED / "movielens-1m")
    if not src.exists():
        raise SuiteError(
            f"MovieLens-1M not found at {src}. Put the GroupLens ml-1m files (ratings.dat, users.dat, "
            "movies.dat) or RecBole atomic files there, or pass --data DIR."
        )
    dest = out / "data"
    if not (dest / "dataset.yaml").exists():
        console.print(f"importing MovieLens-1M from {src} -> {dest}")
        import_movielens(src, dest)
    return dest


def ensure_simulated(data: Path | None, out: Path, preset: str, console: Console, seed: int = 0) -> Path:
    """``data`` if given (a canonical dataset), else the simulated ``preset`` marketplace in ``out/data``
    (simulated once, then reused)."""
    from unisr.simulate.api import simulate

    if data is not None:
        data = Path(data)
        if not (data / "dataset.yaml").exists():
            raise SuiteError(f"--data {data}: no dataset.yaml (a canonical dataset folder is expected)")
        return data
    dest = Path(out) / "data"
    if not (dest / "dataset.yaml").exists():
        console.print(f"simulating the {preset} marketplace (seed {seed}) -> {dest}")
        simulate(preset, dest, seed=seed)
    return dest


# a switch / balance claim holds only by at least this much (AUC, normalised entropy, gate weight): reports
# print 4 / 3 decimals, and TreeMS with and without L_aux differed by 4e-5 AUC (gates within 0.005 of uniform)
MIN_MARGIN = 5e-4


def clearly_greater(a: float, b: float, margin: float = MIN_MARGIN) -> bool:
    """a exceeds b by at least ``margin`` (a one-seed claim's "holds"; ties and rounding noise do not)."""
    return a - b >= margin


def clearly_better(a: list[float], b: list[float], require_test: bool = False) -> tuple[bool, str]:
    """Seeds ``a`` beat seeds ``b`` (both in seed order, the same seeds): mean ahead by at least ``MIN_MARGIN``
    and, with >= 2 paired seeds, paired t-test p < 0.05 (a 0.0004 lead at p = 0.3 is a tie, not a win).
    ``require_test``: no paired test (one seed, other seed counts) is no win (a claim of significance).
    Returns (verdict, the test as text)."""
    from unisr.evaluate.stats import mean_std, paired_ttest

    t, p = paired_ttest(a, b)
    ahead = clearly_greater(mean_std(a)[0], mean_std(b)[0])
    if p != p:
        why = "the differences do not vary" if len(a) == len(b) > 1 else f"{len(a)} vs {len(b)} seeds"
        return ahead and not require_test, f"no paired test ({why}): margin only"
    return ahead and p < 0.05, f"paired t-test t={t:.2f}, p={p:.3g}"


def suite_options(sets: list[str], defaults: dict) -> tuple[dict, list[str]]:
    """Split ``--set`` entries: ``suite.<key>=<value>`` are options of the suite itself (YAML values, keys
    from ``defaults``; an unknown key is an error naming the known ones), the others go to every run."""
    import yaml

    # suite.train=false: report the finished runs, train nothing; suite.record=DIR: see run_matrix;
    # suite.seeds_only=[k, ...]: only those of the --seeds N seeds (spread one suite's seeds over machines);
    # suite.rows_only=[name, ...]: only those rows of the matrix (spread one seed's rows over machines)
    opts = {"train": True, "record": "", "seeds_only": None, "rows_only": None, **defaults}
    rest = []
    for s in sets:
        if s.startswith("suite."):
            k, _, v = s[len("suite."):].partition("=")
            if k not in opts:
                raise SuiteError(f"--set suite.{k}: unknown; known: {', '.join(opts)}")
            opts[k] = yaml.safe_load(v)
        else:
            rest.append(s)
    return opts, rest


@dataclass(frozen=True)
class RunSpec:
    """One row of a suite's matrix: a display ``name`` (the run folder), the registered ``model`` and the
    ``sets`` (``key=value`` overrides) that make this row different from the others (an ablation, a width)."""

    name: str
    model: str
    sets: tuple[str, ...] = ()


def _hash_array(h, arr) -> None:
    """Feed one Arrow array's values (not its encoding) into ``h``: the same column read from files written
    by different Parquet writers (other compression, page or row-group sizes) hashes the same."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    h.update(str(arr.type).encode() + np.asarray(arr.is_null()).tobytes())
    t = arr.type
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        h.update(np.asarray(pc.list_value_length(arr).fill_null(0)).tobytes())
        _hash_array(h, pc.list_flatten(arr))
    elif pa.types.is_struct(t):
        for i in range(t.num_fields):
            _hash_array(h, arr.field(i))
    elif pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t):
        h.update("\0".join(map(str, arr.fill_null("").to_pylist())).encode())
    elif pa.types.is_dictionary(t):
        _hash_array(h, arr.dictionary_decode())
    else:
        fill = False if pa.types.is_boolean(t) else 0  # nulls are in the bitmap hashed above
        h.update(np.ascontiguousarray(arr.fill_null(fill).to_numpy(zero_copy_only=False)).tobytes())


def data_fingerprint(data: Path) -> str:
    """The identity of a canonical dataset's content: its ``dataset.yaml`` (parsed) and every column of every
    Parquet file, value by value. File bytes are not used: two machines with other Polars/Arrow versions write
    the same table to Parquet files of other sizes (seen: the same ``small`` simulation, 2026-12-02)."""
    import hashlib

    import pyarrow.parquet as pq
    import yaml

    data = Path(data)
    meta = yaml.safe_load((data / "dataset.yaml").read_text())
    h = hashlib.sha256(json.dumps(meta, sort_keys=True, default=str).encode())
    for f in sorted(data.glob("*.parquet")):
        table = pq.read_table(f)
        h.update(f"{f.name}:{table.num_rows}:{','.join(table.column_names)}".encode())
        for col in table.columns:
            _hash_array(h, col)
    return h.hexdigest()[:16]


# what a record keeps of a run: enough for every table and claim of a report (not the weights)
RECORD_FILES = ("metrics.json", "config.yaml")


def _effective(key: dict) -> dict:
    """A record key with its overrides as the config sees them (``config.parse_set``: the last value of each key
    wins, order does not matter: ``--set a=1 --set b=2`` and ``--set b=2 --set a=1`` are the same run)."""
    from unisr.train.config import parse_set

    return {**key, "sets": parse_set(key.get("sets", []))}


def _record_matches(rec_dir: Path, key: dict) -> bool:
    f = rec_dir / "record.json"
    return (f.exists() and (rec_dir / "metrics.json").exists()
            and _effective(json.loads(f.read_text())) == _effective(key))


def _other_fingerprints(record: Path, fp: str) -> set[str]:
    """The data fingerprints of a record's runs other than ``fp`` (a record made on other data)."""
    keys = (json.loads(f.read_text()) for f in record.rglob("record.json")) if record.is_dir() else ()
    return {k.get("data", "") for k in keys} - {fp}


def has_model(run_dir: Path) -> bool:
    """The run folder holds trained weights (a recorded run keeps only its metrics and config)."""
    return (Path(run_dir) / "model.safetensors").exists()


def portable_sets(sets: list[str], out: Path) -> list[str]:
    """A record key's overrides without this machine's out folder: a suite builds its graph from the data into
    ``<out>/graph`` (same data fingerprint, same graph), so ``data.graph_dir=<out>/graph`` matches a record made
    under any out folder."""
    own = f"data.graph_dir={Path(out) / 'graph'}"
    return ["data.graph_dir=<out>/graph" if s == own else s for s in sets]


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _stale_run(run_dir: Path, model: str, sets: list[str], seed: int, data: Path) -> list[str]:
    """How a finished run folder's ``config.yaml`` differs from the config this row would train with (keys in
    both; a key added to the code since is not a difference), as ``key: run X, row Y`` lines. A suite resumed in
    an out folder whose runs were trained with other overrides (another monitor, another budget) must not read
    them back as this row's result."""
    import yaml

    from unisr.train.run import run_config

    cfg_file = run_dir / "config.yaml"
    if not cfg_file.exists():
        return []
    have = _flat(yaml.safe_load(cfg_file.read_text()) or {})
    want = _flat(run_config(model, data, sets=sets, seed=seed).model_dump(mode="json"))
    return [f"{k}: run {have[k]!r}, row {want[k]!r}" for k in sorted(have.keys() & want.keys())
            if k != "data_path" and have[k] != want[k]]


def run_matrix(models: list[str | RunSpec], data: Path, out: Path, seeds: int, sets: list[str],
               console: Console, train_missing: bool = True, record: Path | str | None = None,
               seeds_only: list[int] | None = None, rows_only: list[str] | None = None) -> list[dict]:
    """Train every (row, seed); reuse finished runs (their metrics.json) so a suite can be resumed. A finished
    run folder trained with another config than its row is an error naming the differences (:func:`_stale_run`).

    A row is a model name or a :class:`RunSpec`; each result carries ``run_name`` (the row's name) and
    ``run_seed`` (its folder ``seed<k>``) and ``run_dir``.
    ``train_missing=False`` only collects the finished runs (a report of what is there, nothing trained).
    ``record``: a folder (kept in git) where each finished run's ``metrics.json`` and ``config.yaml`` are
    copied with a ``record.json`` key (model, overrides, seed, :func:`data_fingerprint`); a run whose key
    matches a record is not trained again, so seeds accumulate across machines. A recorded run has no
    weights (``run_dir`` is the record folder; see :func:`has_model`).
    ``seeds_only``: only those seeds of ``range(seeds)`` (another one is an error); ``rows_only``: only the rows
    of those names (a name that is not a row of ``models`` is an error naming the rows)."""
    import shutil

    from unisr.train.run import train_run

    encoders: dict = {}
    results = []
    out.mkdir(parents=True, exist_ok=True)  # the report goes here even when every run comes from the record
    fp = data_fingerprint(data) if record else ""
    other = _other_fingerprints(Path(record), fp) if record else set()
    if other:
        console.print(f"[yellow]record {record} holds runs on data {', '.join(sorted(other))}, not on this data "
                      f"({fp}): those runs are trained again here and kept apart. The simulator's output depends "
                      f"on the CPU's SIMD build of numpy/OpenBLAS; see docs/SIMULATOR.md for the environment that "
                      f"reproduces the recorded data.[/yellow]")
    if seeds_only is not None:
        seeds_only = [int(k) for k in (seeds_only if isinstance(seeds_only, list) else [seeds_only])]
        if not set(seeds_only) <= set(range(seeds)):
            raise SuiteError(f"suite.seeds_only={seeds_only}: not among the --seeds {seeds} seeds (0-{seeds - 1})")
    rows = [row if isinstance(row, RunSpec) else RunSpec(row, row) for row in models]
    if rows_only is not None:
        rows_only = [str(n) for n in (rows_only if isinstance(rows_only, list) else [rows_only])]
        unknown = [n for n in rows_only if n not in {r.name for r in rows}]
        if unknown:
            raise SuiteError(f"suite.rows_only: {unknown} are not rows of this run; its rows: "
                             f"{', '.join(r.name for r in rows)}")
        rows = [r for r in rows if r.name in rows_only]
    for row in rows:
        for seed in range(seeds):
            if seeds_only is not None and seed not in seeds_only:
                continue
            run_dir = out / "runs" / row.name / f"seed{seed}"
            key = {"model": row.model, "sets": portable_sets([*sets, *row.sets], out), "seed": seed, "data": fp}
            rec_dir = Path(record) / row.name / f"seed{seed}" if record else None
            if (run_dir / "metrics.json").exists():
                stale = _stale_run(run_dir, row.model, [*sets, *row.sets], seed, data)
                if stale:
                    raise SuiteError(f"{run_dir} was trained with another config than this row "
                                     f"({'; '.join(stale[:5])}): use another --out, or delete that folder")
                m = json.loads((run_dir / "metrics.json").read_text())
            elif rec_dir is not None and _record_matches(rec_dir, key):
                run_dir = rec_dir
                m = json.loads((run_dir / "metrics.json").read_text())
            elif not train_missing:
                console.print(f"{row.name} seed {seed}: not run yet, left out of the report")
                continue
            else:
                m = train_run(row.model, data, run_dir, sets=[*sets, *row.sets], seed=seed,
                              encoder_cache=encoders).metrics
                console.print(f"{row.name} seed {seed}: test AUC {m['overall']['auc']:.4f} logloss "
                              f"{m['overall']['logloss']:.4f} (best epoch {m['best_epoch']}, "
                              f"{m['train_seconds']:.0f} s)")
            if rec_dir is not None and run_dir != rec_dir and not _record_matches(rec_dir, key):
                rec_dir.mkdir(parents=True, exist_ok=True)
                for f in RECORD_FILES:
                    shutil.copyfile(run_dir / f, rec_dir / f)
                (rec_dir / "record.json").write_text(json.dumps(key, indent=1) + "\n")
            m["run_name"], m["run_seed"], m["run_dir"] = row.name, seed, str(run_dir)
            results.append(m)
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


def load_builtin_suites() -> None:
    """Import every ``unisr.bench.suite_*`` module so that its ``@suite`` decorators run."""
    import importlib
    import pkgutil

    import unisr.bench as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        if mod.name.startswith("suite_"):
            importlib.import_module(f"unisr.bench.{mod.name}")


@suite("swr-movielens")
def swr_movielens(out: Path, data: Path | None, seeds: int, sets: list[str], models: list[str] | None,
                  console: Console) -> dict:
    """Multi-scenario baselines on MovieLens-1M (3 age scenarios) against Scenario-Wise Rec's table."""
    out = Path(out)
    data = ensure_movielens(Path(data) if data else None, out, console)
    models = models or SWR_MODELS
    runs = run_matrix(models, data, out, seeds, SWR_PROTOCOL + ["train.progress=false", *sets], console)
    by_model: dict[str, list[dict]] = {}
    for r in runs:
        by_model.setdefault(r["run_name"], []).append(r)
    scen = list(runs[0]["scenarios"].keys())
    rows, summary = [], {}
    for model, rs in by_model.items():
        auc = [r["overall"]["auc"] for r in rs]
        ll = [r["overall"]["logloss"] for r in rs]
        per = [[r["scenarios"][s]["auc"] for r in rs] for s in scen]
        pub = SWR_MOVIELENS.get(model)
        delta = f"{mean_std(auc)[0] - pub['auc']:+.4f}" if pub else "n/a"
        rows.append([model, fmt(auc), fmt(ll), *[fmt(p) for p in per],
                     f"{pub['auc']:.4f}" if pub else "-", delta,
                     " / ".join(f"{x:.4f}" for x in pub["scenarios"]) if pub else "-"])
        summary[model] = {"auc": auc, "logloss": ll, "scenario_auc": dict(zip(scen, per, strict=True)),
                          "published": pub}
    best = max(summary, key=lambda m: mean_std(summary[m]["auc"])[0])
    others = sorted((m for m in summary if m != best), key=lambda m: -mean_std(summary[m]["auc"])[0])
    ttests = [[best, o, ttest_str(summary[best]["auc"], summary[o]["auc"])] for o in others]
    table = ReportTable(
        f"MovieLens-1M, Scenario-Wise Rec protocol, test split, mean ± std over {seeds} seeds",
        ["model", "AUC", "logloss", *[f"AUC {s}" for s in scen], "published AUC", "Δ vs published",
         "published AUC per scenario"],
        rows,
    )
    fig = bar_plot(out / "auc.png", ["overall", *scen],
                   {m: [mean_std(summary[m]["auc"]), *[mean_std(summary[m]["scenario_auc"][s]) for s in scen]]
                    for m in summary}, "test AUC", "MovieLens-1M multi-scenario AUC",
                   ylim=(0.78, 0.83))
    report = Report(
        "swr-movielens: multi-scenario baselines on MovieLens-1M",
        "Scenarios = age groups {1,18} / {25} / {35+}; label rating > 3; features user_id, movie_id, gender, "
        "occupation, zip, first genre (embedding 16) + min-max age; random 8:1:1 split (seed 2022); one "
        "dense Adam over all parameters, lr 1e-3, weight decay 1e-5, batch 4096, no lr schedule, early "
        "stopping on validation AUC (patience 4, best epoch restored). Published: Scenario-Wise Rec "
        "(arXiv 2412.17374).",
        [table, ReportTable("Paired t-test of the best model against each other (overall AUC)",
                            ["best", "vs", "paired t-test"], ttests)],
        [("test AUC per model, overall and per scenario (error bars: std over seeds)", fig)],
    )
    results = {"suite": "swr-movielens", "seeds": seeds, "runs": runs, "summary": summary}
    report.write(out, results)
    console.print(table.markdown())
    return results
