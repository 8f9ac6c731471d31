"""Dose-response tests of a suite's mechanism-tied claims (issue 33, build item 4): the same paired comparison
on the data with the simulator's mechanism on and on the same simulation with ``mechanisms.<name>.strength=0``.

A claim such as "the scenario tree helps TreeMS" (row TreeMS vs row TreeMS-no-tree) is tied to the data-version-2
mechanism that gives it something to learn (``leaf_specificity``, docs/SIMULATOR.md). The verdict the field cares
about is not "the model gains" but "the model gains where the data carries the mechanism and not where it is
switched off": that separates "our implementation cannot exploit the mechanism" (no gain when on) from "the
gain comes from somewhere else" (a gain when off too).

Declared as data (:class:`DoseClaim`: name, claim text, mechanism, row with, row without, metric); the off data is
simulated from the on data's own ``dataset.yaml`` (its written simulator config and seed, the one strength set to
0, everything else equal: :func:`off_config`) next to the suite's out folder, or reused when it is already there
with exactly that config (:func:`ensure_off_data`); the rows run through :func:`unisr.bench.matrix.run_matrix` on
both data (records: the suite's record folder for the on data, :func:`off_record` for each off data, so the
record keys' data fingerprints never mix). Per data the gain is the mean over the seeds both rows have of
(with - without); its paired t-test and "holds" rule are :func:`unisr.bench.verdicts.compare`'s (no other test
here); "on - off" tests the per-seed gains against each other (paired by training seed). Beside the table: the
oracle AUC (with and without the position term) of each data's test events, and the observable-ceiling GBDT
(``benchmarks/observable_ceiling.py``) where a ceiling file measured on that data (same fingerprint) is given.

Shapes:
    (no tensors) claims x {on data, off data} x rows x seeds -> per-seed metric dicts -> gains, paired tests,
    one verdict per claim, report tables
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from rich.console import Console

from unisr.bench.ceiling import CEILING_FILE, load_ceiling
from unisr.bench.matrix import Override, RunSpec, epoch_limit_note, run_matrix
from unisr.bench.registry import SuiteError
from unisr.bench.report import ReportTable
from unisr.bench.verdicts import Comparison, compare, verdict
from unisr.evaluate.stats import mean_std

NAN = float("nan")


@dataclass(frozen=True)
class DoseClaim:
    """One mechanism-tied claim: ``text`` ("the scenario tree helps TreeMS") holds if row ``with_row`` beats row
    ``without_row`` on ``metric`` (the runs' overall test metric); ``mechanism`` is the simulator mechanism
    (``mechanisms.<mechanism>.strength``) that gives the claim's component its signal."""

    name: str
    text: str
    mechanism: str
    with_row: str
    without_row: str
    metric: str = "auc"


def mechanism_names() -> list[str]:
    """The switchable mechanisms of the simulator (``SimConfig.mechanisms`` fields with a ``strength``)."""
    from unisr.simulate.config import Mechanism, MechanismsConfig

    return [n for n, f in MechanismsConfig.model_fields.items()
            if isinstance(f.annotation, type) and issubclass(f.annotation, Mechanism)]


def simulator_block(data: Path) -> dict:
    """The ``simulator:`` block of a dataset's ``dataset.yaml`` (a :class:`SuiteError` if the data was not
    simulated)."""
    spec = Path(data) / "dataset.yaml"
    if not spec.exists():
        raise SuiteError(f"{data}: no dataset.yaml (a canonical dataset folder is expected)")
    meta = (yaml.safe_load(spec.read_text()) or {}).get("simulator")
    if not meta or "config" not in meta:
        raise SuiteError(f"{spec}: no simulator: section; a dose-response test needs simulated data")
    return meta


def data_version(data: Path) -> int:
    """The simulator's data version of a dataset (1 for a ``simulator:`` block without one, and for data that
    was not simulated)."""
    spec = Path(data) / "dataset.yaml"
    meta = (yaml.safe_load(spec.read_text()) or {}).get("simulator") if spec.exists() else None
    if not meta or "config" not in meta:
        return 1
    return int(meta.get("version", 1))


def off_config(data: Path, mechanism: str):  # noqa: ANN201 (SimConfig, imported lazily)
    """(config, seed, preset) of ``data``'s simulation with ``mechanisms.<mechanism>.strength=0``: its written
    config, nothing else changed. Data version 1 (no mechanisms), an unknown mechanism or one already at 0 in
    ``data`` is a :class:`SuiteError`."""
    from unisr.simulate.config import apply_overrides, written_config

    known = mechanism_names()
    if mechanism not in known:
        raise SuiteError(f"mechanism {mechanism!r}: unknown; the simulator's mechanisms: {', '.join(known)}")
    meta = simulator_block(data)
    cfg = written_config(meta)
    if cfg.version < 2:
        raise SuiteError(f"{data}: data version {cfg.version}; the mechanisms exist in data version 2 only "
                         "(unisr simulate --preset small, its default)")
    if cfg.strength(mechanism) == 0:
        raise SuiteError(f"{data}: mechanisms.{mechanism}.strength is already 0, so it cannot be the 'on' data")
    return apply_overrides(cfg, {f"mechanisms.{mechanism}.strength": 0.0}), int(meta.get("seed", 0)), meta.get("preset")


def ensure_off_data(data: Path, mechanism: str, dest: Path, console: Console | None = None) -> Path:
    """``dest``: the simulation of :func:`off_config` (simulated once; an existing ``dest`` is reused only if its
    written config and seed are exactly that, else a :class:`SuiteError` naming it)."""
    from unisr.simulate.api import simulate_config
    from unisr.simulate.config import written_config

    cfg, seed, preset = off_config(data, mechanism)
    dest = Path(dest)
    if (dest / "dataset.yaml").exists():
        have = simulator_block(dest)
        if written_config(have) == cfg and int(have.get("seed", 0)) == seed:
            return dest
        raise SuiteError(f"{dest} holds another simulation than {data} with mechanisms.{mechanism}.strength=0 "
                         "(another config or seed): delete that folder or use another --out")
    if console is not None:
        console.print(f"simulating {data}'s config (preset {preset}, seed {seed}) with "
                      f"mechanisms.{mechanism}.strength=0 -> {dest}")
    simulate_config(cfg, dest, seed, preset)
    return dest


def off_record(record: Path | str | None, mechanism: str) -> Path | None:
    """The record folder of a suite's runs on the off data: ``<record>-off/<mechanism>`` (beside the on data's,
    so one record folder holds one data fingerprint)."""
    if not record:
        return None
    record = Path(record)
    return record.with_name(f"{record.name}-off") / mechanism


# ---------------------------------------------------------------------------------------------- the numbers
def by_seed(runs: Sequence[dict], row: str, metric: str) -> dict[int, float]:
    """``{seed: overall metric}`` of one row's runs (``run_name``, ``run_seed`` as :func:`run_matrix` gives)."""
    return {int(r["run_seed"]): float(r["overall"].get(metric, NAN)) for r in runs if r["run_name"] == row}


@dataclass(frozen=True)
class Side:
    """One claim on one data: the per-seed values of both rows, the per-seed gains (seeds both rows have),
    their mean, and :func:`compare`'s paired test of with vs without."""

    with_values: dict[int, float]
    without_values: dict[int, float]
    gains: dict[int, float]
    comparison: Comparison

    @property
    def gain(self) -> float:
        return mean_std(list(self.gains.values()))[0] if self.gains else NAN


def side(runs: Sequence[dict], claim: DoseClaim) -> Side:
    a, b = by_seed(runs, claim.with_row, claim.metric), by_seed(runs, claim.without_row, claim.metric)
    gains = {s: a[s] - b[s] for s in sorted(a.keys() & b.keys())}
    return Side(a, b, gains, compare(a, b))


@dataclass(frozen=True)
class DoseRow:
    """A claim's dose-response: ``on`` and ``off`` :class:`Side`, ``interaction`` (per-seed gain on vs off,
    paired by training seed) and the verdict with its reason."""

    claim: DoseClaim
    on: Side
    off: Side
    interaction: Comparison
    verdict: str
    reason: str


def dose_verdict(on: Side, off: Side) -> tuple[str, str]:
    """``holds`` if the claim holds on the on data (:func:`compare`: margin and p < 0.05 where seeds allow) and
    not on the off data; otherwise ``does not hold`` with the reason (``n/a`` without runs on one side)."""
    if not on.gains or not off.gains:
        return verdict(None), "runs missing on " + ("the on data" if not on.gains else "the off data")
    if on.comparison.ok and not off.comparison.ok:
        return verdict(True), "gains with the mechanism, not without"
    if on.comparison.ok:
        return verdict(False), "gains without the mechanism too"
    if off.comparison.ok:
        return verdict(False), "no gain with the mechanism, a gain without it"
    return verdict(False), "no gain with the mechanism"


def dose_row(claim: DoseClaim, on_runs: Sequence[dict], off_runs: Sequence[dict]) -> DoseRow:
    on, off = side(on_runs, claim), side(off_runs, claim)
    v, why = dose_verdict(on, off)
    return DoseRow(claim, on, off, compare(on.gains, off.gains), v, why)


def _p(c: Comparison) -> str:
    return c.ttest if c.p == c.p else c.text


def _values(d: dict[int, float]) -> list[float]:
    return list(d.values())


def dose_table(rows: Sequence[DoseRow], seeds: int) -> ReportTable:
    """The table "gain with mechanism / gain without / paired p (each) / verdict"."""
    cells = []
    for r in rows:
        c = r.claim
        cells.append([c.text, c.mechanism, f"{c.with_row} vs {c.without_row}",
                      f"{r.on.gain:+.4f}", _p(r.on.comparison), f"{r.off.gain:+.4f}", _p(r.off.comparison),
                      f"{r.on.gain - r.off.gain:+.4f} ({_p(r.interaction)})", f"{r.verdict}: {r.reason}"])
    return ReportTable(
        f"Dose-response: each mechanism-tied claim with its mechanism on and at strength 0 (test AUC, {seeds} "
        "seed(s))",
        ["claim", "mechanism", "rows", "gain with mechanism", "paired p (on)", "gain without (strength 0)",
         "paired p (off)", "on - off (paired p)", "verdict"], cells,
        "gain = mean over seeds of (row with - row without), overall test metric of the rows' scenarios; paired "
        "t-test over the seeds both rows have (unisr.bench.verdicts.compare: a gain holds by >= 0.0005 and p < "
        "0.05); on - off pairs the per-seed gains by training seed; verdict: holds = gains with the mechanism "
        "and not without it. Off data: the on data's simulator config and seed, the one strength set to 0.")


@dataclass
class DataSide:
    """One data of a dose-response run: its label, folder and runs."""

    label: str
    data: Path
    runs: list[dict] = field(default_factory=list)


def _first(runs: Sequence[dict], key: str) -> float:
    vals = [r["overall"][key] for r in runs if key in r.get("overall", {})]
    return vals[0] if vals else NAN


def ceiling_table(sides: Sequence[DataSide], rows: Sequence[str], metric: str, ceilings: Sequence[Path],
                  scenario: str = "share") -> ReportTable:
    """Beside the dose table: per data the oracle AUC of its test events (with and without the position term,
    from the runs' metrics), the observable-ceiling GBDT's test AUC without / with position where one of
    ``ceilings`` (files or folders of ``observable_ceiling.py`` output) was measured on that data, and each row's
    mean."""
    from unisr.bench.fingerprint import data_fingerprint

    files = []
    for c in ceilings:
        c = Path(c)
        files += sorted(c.glob("*.json")) if c.is_dir() else [c]
    out = []
    for s in sides:
        fp = data_fingerprint(s.data)
        found = next((f[scenario] for f in (load_ceiling(fp, p) for p in files) if f and scenario in f), None)
        gbdt = (f"{found['auc_no_position']:.4f} / {found['auc_position']:.4f}" if found else "not measured")
        means = [fmt_mean(by_seed(s.runs, n, metric)) for n in rows]
        out.append([s.label, fp, f"{_first(s.runs, 'oracle_auc'):.4f}", f"{_first(s.runs, 'oracle_auc_no_position'):.4f}",
                    gbdt, *means])
    return ReportTable(
        "Ceilings of each data (test split, the rows' scenarios pooled)",
        ["data", "fingerprint", "oracle AUC", "oracle AUC, no position", f"GBDT {scenario}: no position / with",
         *[f"{n} {metric.upper()}" for n in rows]], out,
        "oracle = AUC of the simulator's true click probability (p_click, p_click_no_position) on the same test "
        "events; GBDT = benchmarks/observable_ceiling.py on that data (its share features: the friend, pay (both "
        "directions), share and interaction-count relations, the target's clicks, the leaf id), 'not measured' "
        "where no ceiling file has its fingerprint. The models are scored position-free: compare them with the no-position columns.")


def fmt_mean(values: dict[int, float]) -> str:
    m, s = mean_std(_values(values))
    return f"{m:.4f} ± {s:.4f} (n={len(values)})" if values else "-"


# ---------------------------------------------------------------------------------------------- the run
@dataclass
class DoseResult:
    """What :func:`run_dose_response` gives: one :class:`DoseRow` per claim, the data sides (``on`` first), the
    tables and the claim / budget lines."""

    rows: list[DoseRow]
    sides: list[DataSide]
    tables: list[ReportTable]
    lines: list[str]

    def summary(self) -> dict:
        """JSON-able numbers of every claim (the suite's results.json)."""
        return {r.claim.name: {"claim": r.claim.text, "mechanism": r.claim.mechanism, "with": r.claim.with_row,
                               "without": r.claim.without_row, "metric": r.claim.metric,
                               "on": {"gain": r.on.gain, "gains": r.on.gains, "with": r.on.with_values,
                                      "without": r.on.without_values, "t": r.on.comparison.t,
                                      "p": r.on.comparison.p, "holds": r.on.comparison.ok},
                               "off": {"gain": r.off.gain, "gains": r.off.gains, "with": r.off.with_values,
                                       "without": r.off.without_values, "t": r.off.comparison.t,
                                       "p": r.off.comparison.p, "holds": r.off.comparison.ok},
                               "on_minus_off": {"t": r.interaction.t, "p": r.interaction.p},
                               "verdict": r.verdict, "reason": r.reason} for r in self.rows}


def claim_line(r: DoseRow) -> str:
    c = r.claim
    return (f"[dose-response] {c.text} with {c.mechanism} on, not at strength 0: {r.verdict} ({r.reason}; gain on "
            f"{r.on.gain:+.4f}, {r.on.comparison.text}; off {r.off.gain:+.4f}, {r.off.comparison.text})")


def run_dose_response(claims: Sequence[DoseClaim], rows: Sequence[RunSpec], data: Path, out: Path, seeds: int,
                      sets: Sequence[str | Override], console: Console, *,
                      per_data_sets: Callable[[Path], list[Override]] = lambda out: [],
                      record: Path | str | None = None, train_missing: bool = True,
                      seeds_only: list[int] | None = None, ceilings: Sequence[Path] = (CEILING_FILE,),
                      ceiling_scenario: str = "share") -> DoseResult:
    """Every claim's rows on ``data`` (out folder ``out``, the suite's own, so finished runs are reused) and on its
    mechanism's off data (``out/dose/<mechanism>-off``, simulated there once), ``sets`` on every run and
    ``per_data_sets(run out folder)`` for what depends on the data's folder (a suite's graph cache). Returns the
    dose table, the ceilings table and the lines (one per claim, then the epoch budget of every run used)."""
    if not claims:
        raise SuiteError("dose-response: no claims")
    named = {r.name: r for r in rows}
    missing = sorted({n for c in claims for n in (c.with_row, c.without_row)} - set(named))
    if missing:
        raise SuiteError(f"dose-response: rows {missing} are not rows of this suite ({', '.join(named)})")
    for c in claims:
        off_config(data, c.mechanism)  # every claim's data and mechanism checked before anything is trained

    def runs_on(d: Path, o: Path, names: list[str], rec: Path | str | None) -> list[dict]:
        specs = [named[n] for n in dict.fromkeys(names)]
        return run_matrix(specs, d, o, seeds, [*per_data_sets(o), *sets], console, train_missing=train_missing,
                          record=rec, seeds_only=seeds_only)

    out = Path(out)
    on = DataSide("on (every mechanism at its default)", Path(data),
                  runs_on(Path(data), out, [n for c in claims for n in (c.with_row, c.without_row)], record))
    sides, result_rows = [on], []
    for mech in dict.fromkeys(c.mechanism for c in claims):
        mine = [c for c in claims if c.mechanism == mech]
        off_out = out / "dose" / f"{mech}-off"
        off_data = ensure_off_data(Path(data), mech, off_out / "data", console)
        off = DataSide(f"{mech} at strength 0", off_data,
                       runs_on(off_data, off_out, [n for c in mine for n in (c.with_row, c.without_row)],
                               off_record(record, mech)))
        sides.append(off)
        result_rows += [dose_row(c, on.runs, off.runs) for c in mine]
    order = {c.name: i for i, c in enumerate(claims)}
    result_rows.sort(key=lambda r: order[r.claim.name])
    row_names = list(dict.fromkeys(n for c in claims for n in (c.with_row, c.without_row)))
    tables = [dose_table(result_rows, seeds),
              ceiling_table(sides, row_names, claims[0].metric, ceilings, ceiling_scenario)]
    lines = [claim_line(r) for r in result_rows]
    lines.append("dose-response " + epoch_limit_note([r for s in sides for r in s.runs]))
    return DoseResult(result_rows, sides, tables, lines)
