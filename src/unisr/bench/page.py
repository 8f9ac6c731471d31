"""The benchmarks page: docs/BENCHMARKS.md written from the benchmark output files in ``benchmarks/results/``.

``unisr benchmark --page`` (= ``make benchmarks-page``) reads one output file per benchmark and writes a summary
table (benchmark, current figure, goal, command, date, machine), then one section per benchmark. Nothing on the
page is typed by hand: a figure is on it because an output file (written by a suite from its records, or by a
script in ``benchmarks/``) holds it. The superseded sections live in ``docs/benchmarks/<name>/HISTORY.md``.

An output file (format ``unisr-benchmark/1``, JSON) holds:

- ``benchmark``: the id (the file's stem); ``title``: the section heading;
- ``figure``: the current figure, one line (the summary table's cell); ``goal``: what the figure is measured
  against (and whether it is met);
- ``command``, ``date``, ``machine``: how, when and where it was measured (``machine``: a string, or a dict with
  ``cpu`` / ``nproc`` / ``torch`` ...);
- ``tables``: ``[{"title": ..., "header": [...], "rows": [[...], ...], "note": ...}]``, cells as text;
- ``notes``: lines of text under the tables (claims with their verdicts, the sentences that carry figures);
- optional ``history`` (the HISTORY.md path) and ``report`` (the full report, a suite's ``report.md``).

A benchmark whose script writes another layout registers a view (:data:`VIEWS`: raw output -> this format).

Shapes:
    (no tensors) benchmarks/results/*.json -> docs/BENCHMARKS.md text
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

FORMAT = "unisr-benchmark/1"
# the order of the sections; an output file not listed here comes after them, by name
ORDER = ["swr-movielens", "demo", "observable-ceiling", "ceiling-learners", "simulator", "synonyms",
         "train-throughput", "graph-engine", "srjgraph-speed", "sparse_threshold", "sparse_graph_models", "srjgraph",
         "usr", "treems", "treems-dose-response", "bomgraph", "retrieval_oracle", "bomgraph-speed"]
INTRO = [
    "# Benchmarks",
    "",
    "Written by `unisr benchmark --page` (`make benchmarks-page`) from the output files in `benchmarks/results/`"
    " (format: `src/unisr/bench/page.py`); do not edit by hand, a test compares this file with the command's"
    " output. A suite's output file is written from its records (`benchmarks/records/<suite>/`, one folder per"
    " suite, found by key: `unisr.bench.records`) with `--set suite.train=false --set"
    " suite.publish=benchmarks/results/<suite>.json`; the scripts in `benchmarks/` write theirs. Earlier"
    " measurements and the superseded sections: `docs/benchmarks/<benchmark>/HISTORY.md`.",
    "",
]


def _machine(m) -> str:
    if isinstance(m, dict):
        bits = [m.get("cpu", ""), f"{m['nproc']} cores" if "nproc" in m else "",
                f"{m['threads']} thread(s)" if "threads" in m else "", f"torch {m['torch']}" if "torch" in m else ""]
        return ", ".join(b for b in bits if b)
    return str(m or "-")


def _sparse_threshold(raw: dict) -> dict:
    """View of ``benchmarks/sparse_threshold.py``'s output: the dense-vs-sparse crossover per model, and sparse /
    dense samples/s at each measured table size (the full medians and rounds are in the output file)."""
    cross = raw.get("crossover_rows", {})
    cases = raw.get("cases", [])
    rows = []
    for m in dict.fromkeys(c["model"] for c in cases):
        pts = [c for c in cases if c["model"] == m]
        ratios = ", ".join(f"{c['model_table_rows']:,}: {c['sparse_over_dense']:.2f}" for c in pts)
        rows.append([m, f"{cross[m]:,.0f}" if cross.get(m) else "none", ratios])
    figure = "; ".join(f"{m} crossover {v:,.0f} rows" for m, v in cross.items())
    if "recommended_rows" in raw:
        figure += f"; threshold {raw['recommended_rows']:,} rows (was {raw.get('sparse_auto_rows', 0):,})"
    return {**raw, "title": "Dense vs sparse embedding gradients: the threshold",
            "figure": figure or "-", "goal": "one dense-vs-sparse threshold, chosen by this measurement",
            "tables": [{"title": "training samples/s, sparse / dense, by embedding-table rows (medians of the rounds)",
                        "header": ["model", "crossover (rows)", "table rows: sparse / dense"], "rows": rows}],
            "notes": [f"settings: {json.dumps(raw.get('settings', {}))}"]}


def _sparse_graph_models(raw: dict) -> dict:
    """View of ``benchmarks/sparse_graph_models.py``'s output: dense vs sparse gradients on the graph models."""
    cases = raw.get("cases", [])
    rows = [[c["model"], f"{c['schema_rows']:,}", str(c.get("rule_gives", "-")), f"{c['dense_samples_per_s']:,.0f}",
             f"{c['sparse_samples_per_s']:,.0f}", f"{c['sparse_over_dense']:.2f}"] for c in cases]
    ratios = [c["sparse_over_dense"] for c in cases]
    figure = f"sparse / dense {min(ratios):.2f}-{max(ratios):.2f} on {len(cases)} graph models" if ratios else "-"
    return {**raw, "title": "Dense vs sparse embedding gradients on the graph models",
            "figure": figure, "goal": f"the one threshold ({raw.get('sparse_auto_rows', 0):,} rows) checked on them",
            "tables": [{"title": "training samples/s (median of the rounds)",
                        "header": ["model", "schema rows", "rule gives", "dense", "sparse", "sparse / dense"],
                        "rows": rows}],
            "notes": [f"settings: {json.dumps(raw.get('settings', {}))}"]}


def _part(res: dict, part: str) -> dict:
    """One check's result, or one part of it (``search`` / ``feed`` / ...); ``part`` "" = the whole."""
    return res if part == "" else res[part]


def _gain(r: dict) -> str:
    """A gain with its bootstrap standard error, e.g. ``+0.0025 (0.0011)``."""
    return f"{r['gain']:+.4f} ({r.get('gain_se', float('nan')):.4f})"


MECHANISM_CHECKS = ("", "search", "feed")  # the checks proper; a check's other parts are designs and diagnostics


def mechanism_summary(raw: dict) -> dict[str, int]:
    """How many checks proper ``benchmarks/mechanisms.py``'s output has and how many gain more with the
    mechanism on than off in every seed (the script writes it into its file; the page's figure is this)."""
    seeds = [str(sd) for sd in raw.get("seeds", [])]
    checks = held = 0
    for per_seed in raw.get("mechanisms", {}).values():
        per_seed = {str(k): v for k, v in per_seed.items()}
        on0 = per_seed[seeds[0]]["on"] if seeds else {}
        parts = [""] if "gain" in on0 else [k for k, v in on0.items() if isinstance(v, dict) and "gain" in v]
        for part in (p for p in parts if p in MECHANISM_CHECKS):
            checks += 1
            held += all(_part(per_seed[sd]["on"], part)["gain"] > _part(per_seed[sd]["off"], part)["gain"]
                        for sd in seeds)
    return {"checks": checks, "on_above_off_in_every_seed": held}


def _mechanisms(raw: dict) -> dict:
    """View of ``benchmarks/mechanisms.py``'s output: per mechanism and check the gain (bootstrap standard error)
    of the observable feature it acts through, with the mechanism on and at strength 0, per seed."""
    seeds = [str(sd) for sd in raw.get("seeds", [])]
    rows = []
    for name, per_seed in raw.get("mechanisms", {}).items():
        first = per_seed.get(seeds[0], {}) if seeds else {}
        on0 = first.get("on", {})
        parts = [""] if "gain" in on0 else [k for k, v in on0.items() if isinstance(v, dict) and "gain" in v]
        for part in parts:
            r0 = _part(on0, part)
            on = [_part(per_seed[sd]["on"], part) for sd in seeds]
            off = [_part(per_seed[sd]["off"], part) for sd in seeds]
            rows.append([name, part or "-", f"{r0['auc_without']:.4f} -> {r0['auc_with']:.4f}",
                         " / ".join(map(_gain, on)), " / ".join(map(_gain, off))])
    m = raw.get("machine", {})
    count = mechanism_summary(raw)
    main, held = count["checks"], count["on_above_off_in_every_seed"]
    return {**raw, "title": "Data version 2: each mechanism's learnability check, on vs off (issue 32)",
            "figure": f"{held} of {main} checks gain more with the mechanism on than at strength 0 in every seed",
            "goal": "each mechanism shows a gain when on and none when off (docs/SIMULATOR.md)",
            "machine": {"cpu": m.get("cpu", "-"), "nproc": m.get("nproc")},
            "tables": [{"header": ["mechanism", "check", "test AUC without -> with, on (first seed)",
                                   f"gain (se) on, seeds {' / '.join(seeds)}", "gain (se) off"], "rows": rows}],
            "notes": ["a logistic regression fitted on days 14-22, tested on days 22-24, without and with the "
                      "observable feature the mechanism acts through (unisr.simulate.measure); se: bootstrap over "
                      "test requests; `*_old_design` / `*_new_base_old_flags`: a check's first design and a "
                      "diagnostic (docs/SIMULATOR.md)",
                      f"the checks proper (check '-', 'search' or 'feed'): {main}; with a larger gain on than off in "
                      f"every seed: {held}"]}


VIEWS: dict[str, Callable[[dict], dict]] = {"sparse_threshold": _sparse_threshold,
                                            "sparse_graph_models": _sparse_graph_models, "mechanisms": _mechanisms}


def load(results: Path) -> list[dict]:
    """Every output file under ``results`` in page order, in the page format."""
    files = {f.stem: f for f in sorted(Path(results).glob("*.json"))}
    names = [n for n in ORDER if n in files] + sorted(set(files) - set(ORDER))
    out = []
    for n in names:
        raw = json.loads(files[n].read_text())
        out.append({"benchmark": n, **(VIEWS[n](raw) if n in VIEWS else raw)})
    return out


def _cell(s: str) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def _table(t: dict) -> list[str]:
    lines = [f"**{t['title']}**", ""] if t.get("title") else []
    if t.get("note"):
        lines += [t["note"], ""]
    lines.append("| " + " | ".join(map(_cell, t["header"])) + " |")
    lines.append("|" + "---|" * len(t["header"]))
    lines += ["| " + " | ".join(map(_cell, r)) + " |" for r in t["rows"]]
    return [*lines, ""]


def section(b: dict) -> list[str]:
    """One benchmark's section: heading, how / when / where, tables, notes, links."""
    lines = [f"## {b.get('title', b['benchmark'])}", "",
             f"Command: `{b.get('command', '-')}`  ", f"Date: {b.get('date', '-')}. Machine: {_machine(b.get('machine'))}. "
             f"Goal: {b.get('goal', '-')}.", ""]
    for t in b.get("tables", []):
        lines += _table(t)
    notes = b.get("notes", [])
    if notes:
        lines += [f"- {n}" for n in notes] + [""]
    links = [f"full report: `{b['report']}`" if b.get("report") else "",
             f"history: `{b['history']}`" if b.get("history") else ""]
    links = [x for x in links if x]
    if links:
        text = "; ".join(links)
        lines += [text[0].upper() + text[1:] + ".", ""]  # not str.capitalize: it lowercases the paths
    return lines


def render(results: Path) -> str:
    """The page's text from the output files under ``results``."""
    items = load(results)
    lines = [*INTRO, "| benchmark | current figure | goal | command | date | machine |", "|---|---|---|---|---|---|"]
    lines += [f"| {_cell(b.get('title', b['benchmark']))} | {_cell(b.get('figure', '-'))} | "
              f"{_cell(b.get('goal', '-'))} | `{_cell(b.get('command', '-'))}` | {_cell(b.get('date', '-'))} | "
              f"{_cell(_machine(b.get('machine')))} |" for b in items]
    lines.append("")
    for b in items:
        lines += section(b)
    return "\n".join(lines).rstrip() + "\n"


def write_page(results: Path, out: Path) -> int:
    """Write the page; returns its number of lines."""
    text = render(results)
    Path(out).write_text(text)
    return text.count("\n")


def _now_and_here() -> dict:
    """``date`` (now, UTC) and ``machine`` (CPU model, cores) of an output file published for the first time."""
    import os
    import platform
    from datetime import UTC, datetime

    info = Path("/proc/cpuinfo")
    cpu = next((ln.split(":", 1)[1].strip() for ln in info.read_text().splitlines() if ln.startswith("model name")),
               platform.processor()) if info.exists() else platform.processor()
    return {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": {"cpu": cpu or "-",
                                                                                 "nproc": os.cpu_count()}}


def publish(path: Path, title: str, figure: str, tables: list, notes: list[str], meta: dict,
            report_md: Path | None = None) -> None:
    """A suite's output file: ``tables`` (``ReportTable``s) and ``notes`` (its claim lines) from its records,
    ``meta`` (goal, command, history: the suite's data); ``date`` and ``machine`` (when and where the records
    were made) are kept from the file already there. ``report_md``: the full report, copied beside it."""
    import shutil

    path = Path(path)
    old = json.loads(path.read_text()) if path.exists() else {}
    data = {"format": FORMAT, "benchmark": path.stem, "title": title, "figure": figure, **_now_and_here(),
            **{k: old[k] for k in ("date", "machine") if k in old}, **meta,
            "tables": [{"title": t.title, "header": t.header, "rows": t.rows, **({"note": t.note} if t.note else {})}
                       for t in tables],
            "notes": list(notes)}
    path.parent.mkdir(parents=True, exist_ok=True)
    if report_md is not None:
        dest = path.with_suffix(".md")
        shutil.copyfile(report_md, dest)
        data["report"] = str(dest)
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")


def update_result(path: Path, meta: dict, header: list[str], rows: list[list[str]]) -> dict:
    """A script's output file after one run: ``meta`` (command, date, machine, ... and, if given, figure) set,
    ``rows`` put into its first table (a row with the same first cell replaced, others kept; another header
    starts the table anew). What a benchmark script in ``benchmarks/`` calls with ``--results FILE``."""
    path = Path(path)
    data = json.loads(path.read_text()) if path.exists() else {"format": FORMAT, "benchmark": path.stem}
    data.update(meta)
    tables = data.setdefault("tables", [])
    if not tables or tables[0].get("header") != header:
        tables[:1] = [{"header": header, "rows": []}]
    keep = [r for r in tables[0]["rows"] if r[0] not in {n[0] for n in rows}]
    tables[0]["rows"] = keep + [list(map(str, r)) for r in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    return data
