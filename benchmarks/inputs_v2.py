"""Inputs versions 2 and 3 (issue 31): test AUC per scenario before (the srjgraph suite's records, inputs version
1, mean over their seeds) and after (run folders trained with version 2 or 3, the version in each row's label),
beside the observable-ceiling GBDT and the oracle, on the same test rows. Reads finished runs only; trains nothing.

Train the "after" runs with the suite's budget, e.g.:

    unisr train --model srjgraph --data /tmp/sim_small --out /tmp/exp/srjgraph-v2 --set train.max_steps_per_epoch=100 \
        --set data.batch_size=1024 --set data.eval_batch_size=2048 --set train.threads=1 --set train.epochs=16

then: ``python benchmarks/inputs_v2.py --data /tmp/sim_small --run "SRJGraph=srjgraph:/tmp/exp/srjgraph-v2" ...``
(``LABEL=RECORD_ROW:RUN_DIR``; RECORD_ROW "-" = no before row).

Shapes:
    (no tensors) run folders -> benchmarks/results/inputs-v2.json
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
SCENARIOS = ("search_text", "search_visual", "search_similar", "feed_main", "feed_guess", "feed_deals", "feed_new",
             "feed_niche")


def before(row: str, fingerprint: str) -> tuple[dict[str, float], int]:
    """Mean test AUC per scenario of the srjgraph suite's version-1 records of ``row`` at its 16-epoch budget on
    this data: the joint row (SRJGraph) or the per-task rows ``<row>/search`` and ``<row>/rec`` (the suite trains a
    baseline per task, on search_text or feed_main alone), with no override beyond the suite's own."""
    aucs: dict[str, list[float]] = {}
    seeds = set()
    folders = [ROOT / "records" / "srjgraph" / row] + [ROOT / "records" / "srjgraph" / row / t for t in ("search", "rec")]
    for folder in folders:
        for rec in sorted(folder.glob("seed*/record.json")):
            key = json.loads(rec.read_text())
            extra = [x for x in key.get("sets", []) if not x.startswith(SUITE_KEYS)]
            if (key.get("data") != fingerprint or "inputs" in key or extra
                    or (key.get("budget") or {}).get("train.epochs") != 16):
                continue
            m = json.loads((rec.parent / "metrics.json").read_text())
            seeds.add(key["seed"])
            for s, v in m["scenarios"].items():
                aucs.setdefault(s, []).append(v["auc"])
    return {s: float(np.mean(v)) for s, v in aucs.items()}, len(seeds)


# the suite's own overrides (budget, batch sizes, scenarios, model selection): a record with any other is another row
SUITE_KEYS = ("train.progress=", "train.max_steps_per_epoch=", "data.batch_size=", "data.eval_batch_size=",
              "train.threads=", "train.epochs=", "data.scenarios=", "train.monitor=", "data.graph_dir=")


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--run", action="append", required=True, help="LABEL=RECORD_ROW:RUN_DIR")
    ap.add_argument("--oracle", type=Path, help="a `unisr evaluate` output (JSON) on data whose truth has "
                    "p_click_no_position: the oracles of its scenarios (the runs' own metrics may predate the column)")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "inputs-v2.json")
    ap.add_argument("--add", action="store_true", help="keep the rows of the existing --out file (their run "
                    "folders may be gone: each row is rebuilt from the file's `runs`) and add these runs after them; "
                    "the file's command becomes the earlier command(s), then this one")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from machine import machine
    from unisr.bench.fingerprint import data_fingerprint

    fp = data_fingerprint(args.data)
    from unisr.bench.ceiling import load_ceiling

    gbdt = {sc: r["auc_no_position"] for sc, r in (load_ceiling(fp) or {}).items()}
    rows, runs, oracle, oracle_np = [], {}, {}, {}
    earlier = json.loads(args.out.read_text()) if args.add and args.out.is_file() else None
    if earlier is not None:
        if earlier["data"]["fingerprint"] != fp:
            raise SystemExit(f"--add: {args.out} was made on data {earlier['data']['fingerprint']}, --data is {fp}")
        for label, r in earlier["runs"].items():
            runs[label] = r
            rows.append([label] + [f"{r['before'][s]:.4f} -> {r['after'][s]:.4f}" if s in r["before"]
                                   else f"- -> {r['after'].get(s, float('nan')):.4f}" for s in SCENARIOS])
    for spec in args.run:
        label, rest = spec.split("=", 1)
        row, run_dir = rest.split(":", 1)
        m = json.loads((Path(run_dir) / "metrics.json").read_text())
        cfg = (Path(run_dir) / "config.yaml").read_text()
        b, n_before = before(row, fp) if row != "-" else ({}, 0)
        after = {s: m["scenarios"][s]["auc"] for s in SCENARIOS if s in m["scenarios"]}
        for s in SCENARIOS:
            oracle.setdefault(s, m["scenarios"].get(s, {}).get("oracle_auc"))
            oracle_np.setdefault(s, m["scenarios"].get(s, {}).get("oracle_auc_no_position"))
        import yaml

        version = ((yaml.safe_load(cfg).get("data") or {}).get("inputs") or {}).get("version", 1)
        runs[label] = {"row": row, "run_dir": str(run_dir), "seed": m["seed"], "best_epoch": m["best_epoch"],
                       "inputs_version": version,
                       "position_bias": m.get("position_bias"), "match": "match: true" in cfg,
                       "before_seeds": n_before, "before": b, "after": after}
        rows.append([label] + [f"{b[s]:.4f} -> {after[s]:.4f}" if s in b else f"- -> {after.get(s, float('nan')):.4f}"
                               for s in SCENARIOS])
    rows.append(["GBDT (observable ceiling, no position)"] + [f"{gbdt[s]:.4f}" if s in gbdt else "-" for s in SCENARIOS])
    rows.append(["oracle / oracle without position"] + [
        f"{oracle[s]:.4f} / {oracle_np[s]:.4f}" if oracle.get(s) and oracle_np.get(s) else
        (f"{oracle[s]:.4f} / -" if oracle.get(s) else "-") for s in SCENARIOS])
    if args.oracle is not None:
        ev = json.loads(args.oracle.read_text())["scenarios"]
        oracle_np = {sc: ev.get(sc, {}).get("oracle_auc_no_position") for sc in SCENARIOS}
        rows[-1] = ["oracle / oracle without position"] + [
            f"{oracle[sc]:.4f} / {oracle_np[sc]:.4f}" if oracle.get(sc) and oracle_np.get(sc) else "-"
            for sc in SCENARIOS]
    best = max((r for r in runs.values()), key=lambda r: r["after"].get("search_text", 0))
    label = next(k for k, v in runs.items() if v is best)
    import shlex

    command = shlex.join([".venv/bin/python", "benchmarks/inputs_v2.py", *(sys.argv[1:] if argv is None else argv)])
    if earlier is not None:  # the rows kept come from the earlier command(s)
        command = f"{earlier['command']}; then {command}"
    out = {"format": "unisr-benchmark/1", "benchmark": "inputs-v2",
           "title": "Inputs versions 2 and 3 (issue 31): test AUC before -> after, per scenario, one run per row",
           "figure": f"best search_text: {label} {best['after']['search_text']:.4f} (GBDT "
                     f"{gbdt.get('search_text', float('nan')):.4f}, oracle {oracle.get('search_text') or float('nan'):.4f}, "
                     f"without position {oracle_np.get('search_text') or float('nan'):.4f})",
           "goal": "issue 31: best deep search_text >= 0.74, SRJGraph >= 0.72, search_similar >= 0.72, feed_main >= 0.70, "
                   "feed_new >= 0.60",
           "command": command, "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(1),
           "tables": [{"header": ["model (before: v1 records, mean of their seeds -> after: the row's version, one seed)",
                                  *SCENARIOS],
                       "rows": rows}],
           "notes": ["before: the srjgraph suite's records (inputs version 1, no position bias, 16 epochs x 100 steps x "
                     "1,024; SRJGraph 200 steps), mean over their seeds, which train each baseline per task on "
                     "search_text or feed_main alone (SRJGraph on both), so only those two scenarios have a before; "
                     "after: one run per row (seed 0 unless the row says) trained on every scenario with 16 x 100 x "
                     "1,024 and the inputs of the row's version (docs/models/inputs.md; v3 = v2 + history counters), "
                     "position bias auto unless the row says; the protocols differ (scenarios trained on, SRJGraph's "
                     "steps): read the before column as the level of the published suite, not as a paired difference; "
                     "'+ match' rows add the opt-in match features of nn/match.py ('pooled kernels': the mean and "
                     "gated kernels only; 'by position, raw cosines': also each of the first 3 query terms' kernels "
                     "and the raw vectors' cosines, the defaults of model.match since issue 31)",
                     "each after run: `unisr train --model M --data /tmp/sim_small --out RUN --set "
                     "train.max_steps_per_epoch=100 --set data.batch_size=1024 --set data.eval_batch_size=2048 --set "
                     "train.threads=1 --set train.epochs=16 --set train.progress=false` (+ `--set model.match=true`, "
                     "`--set train.position_bias=off`, `--set model.id_dropout=0.5`, `--set model.dense=true`, "
                     "`--set train.monitor=auc`, `--seed K` where the row says; pooled-kernel runs today: `--set "
                     "model.match_positions=0 --set model.match_raw_cosine=false`; the 30-epoch SRJGraph rows "
                     "`--set train.epochs=30`, with `--set train.optimizer=adam --set train.lr=0.001` (Adam rows), "
                     "`--set train.lr=0.1` (Adagrad lr 0.1 rows), `--set model.aggregate=false` (w/o aggregation); "
                     "the id dropout of SRJGraph rows acts on every sampled node's id, nn/entity.py:NodeEmbedding); "
                     "two to four runs at a time on the 2-core box; "
                     "the oracle without position from `unisr evaluate` on the data re-made by `make sim-recorded` "
                     "(same fingerprint, truth with p_click_no_position)"],
           "data": {"fingerprint": fp}, "runs": runs}
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps({k: out[k] for k in ("figure", "goal")}, indent=1))
    return out


if __name__ == "__main__":
    main()
