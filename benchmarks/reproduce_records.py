"""Re-train recorded suite runs from their record keys and compare the new test metrics with the recorded ones.

A refactor that claims "behaviour unchanged" must reproduce the records: this script reads each given record
folder (``record.json``: model, ``--set`` overrides, seed, data fingerprint; ``metrics.json``), checks that the
dataset has the recorded fingerprint, trains the same run into ``--out`` and prints, per run, the largest
absolute difference of the test AUCs (overall and per scenario, every task) against the record.

    python benchmarks/reproduce_records.py --data /tmp/sim_small --out runs/repro \\
        benchmarks/records/srjgraph/.../seed0 ...

Exit status 1 if any run differs by more than ``--tol`` (default 0.0005 AUC).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def is_auc(k: str) -> bool:
    """A model's test AUC of some task (``auc``, ``ctr_auc``, ``ctcvr_auc``); not GAUC (a mean over users, unstable
    on small scenarios) and not the oracle's (the data's, not the model's)."""
    return (k == "auc" or k.endswith("_auc")) and "gauc" not in k and not k.startswith("oracle")


def auc_items(metrics: dict, test=is_auc) -> dict[str, float]:
    """The AUCs of a metrics.json, keyed ``overall.<k>`` / ``<scenario>.<k>``."""
    out = {f"overall.{k}": v for k, v in metrics["overall"].items() if test(k) and v == v}
    for s, block in metrics.get("scenarios", {}).items():
        out.update({f"{s}.{k}": v for k, v in block.items() if test(k) and v == v})
    return out


def reproduce(record: Path, data: Path, out: Path, extra: list[str] | None = None) -> dict:
    from unisr.bench.fingerprint import data_fingerprint
    from unisr.train.run import train_run

    key = json.loads((record / "record.json").read_text())
    old = json.loads((record / "metrics.json").read_text())
    fp = data_fingerprint(data)
    if key.get("data") and key["data"] != fp:
        raise SystemExit(f"{record}: recorded on data {key['data']}, {data} is {fp}")
    run_dir = out / "_".join(record.parts[-2:]).replace(" ", "_")
    sets = [s.replace("<out>", str(run_dir)) for s in key["sets"]] + list(extra or [])
    t0 = time.perf_counter()
    new = train_run(key["model"], data, run_dir, sets=sets, seed=key["seed"]).metrics
    a, b = auc_items(old), auc_items(new)
    diffs = {k: abs(a[k] - b[k]) for k in a if k in b}
    worst = max(diffs, key=diffs.get) if diffs else None
    ga, gb = (auc_items(m, lambda k: "gauc" in k) for m in (old, new))
    gauc = max((abs(ga[k] - gb[k]) for k in ga if k in gb), default=None)
    return {"record": str(record), "model": key["model"], "seed": key["seed"], "seconds": time.perf_counter() - t0,
            "extra_sets": list(extra or []), "samples_per_second": new.get("train_samples_per_second"),
            "samples_per_second_recorded": old.get("train_samples_per_second"),
            "auc_recorded": old["overall"].get("auc"), "auc_now": new["overall"].get("auc"),
            "max_abs_diff": diffs[worst] if worst else None, "worst_key": worst, "compared": len(diffs),
            "max_abs_gauc_diff": gauc,
            "missing": sorted(set(a) - set(b))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("records", nargs="+", type=Path)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=Path("runs/repro"))
    ap.add_argument("--tol", type=float, default=0.0005)
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--set", dest="sets", action="append", default=[],
                    help="an override added to every record's (e.g. model.sparse_grad=false)")
    a = ap.parse_args()
    rows = []
    for rec in a.records:
        r = reproduce(rec, a.data, a.out, a.sets)
        rows.append(r)
        print(f"{r['model']:10s} seed {r['seed']}  auc {r['auc_recorded']:.6f} -> {r['auc_now']:.6f}  "
              f"max |diff| {r['max_abs_diff']:.2e} ({r['worst_key']}, {r['compared']} AUCs)  "
              f"GAUC max |diff| {r['max_abs_gauc_diff'] or 0:.2e}  {r['seconds']:.0f} s  {r['record']}", flush=True)
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1))
    bad = [r for r in rows if r["max_abs_diff"] is None or r["max_abs_diff"] > a.tol or r["missing"]]
    raise SystemExit(1 if bad else 0)


if __name__ == "__main__":
    main()
