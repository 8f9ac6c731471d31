"""``make demo``: from nothing to a per-scenario results table in one command.

With the simulator available: simulate the small marketplace, train the multi-scenario models on it,
evaluate every scenario and write ``runs/demo/report.html`` + ``runs/demo/results.json``. Without it, run
the MovieLens-1M suite on ``../shared/data`` (one seed).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

from rich.console import Console

from unisr.bench.report import Report, ReportTable, bar_plot
from unisr.bench.suites import SUITES, SuiteError, run_matrix

DEMO_MODELS = ["dnn", "shared_bottom", "mmoe", "ple", "star"]


def simulator_available() -> bool:
    return importlib.util.find_spec("unisr.simulate.api") is not None


def demo_simulated(out: Path, console: Console, preset: str = "small") -> dict:
    from unisr.simulate.api import simulate

    data = out / f"sim-{preset}"
    if not (data / "dataset.yaml").exists():
        console.print(f"simulating the [bold]{preset}[/bold] marketplace -> {data}")
        simulate(preset, data, seed=0)
    sets = ["train.progress=false", "train.epochs=8", "train.patience=2", "data.batch_size=4096"]
    runs = run_matrix(DEMO_MODELS, data, out, 1, sets, console)
    scen = list(runs[0]["scenarios"])
    header = ["model", "overall AUC", "overall logloss", *[f"AUC {s}" for s in scen]]
    rows = [[r["model"], f"{r['overall']['auc']:.4f}", f"{r['overall']['logloss']:.4f}",
             *[f"{r['scenarios'][s]['auc']:.4f}" for s in scen]] for r in runs]
    oracle = runs[0]["overall"].get("oracle_auc")
    if oracle is not None:
        rows.append(["oracle (true p_click)", f"{oracle:.4f}", f"{runs[0]['overall'].get('oracle_logloss', 0):.4f}",
                     *[f"{runs[0]['scenarios'][s].get('oracle_auc', float('nan')):.4f}" for s in scen]])
    table = ReportTable(f"test split of the simulated {preset} marketplace", header, rows)
    fig = bar_plot(out / "auc.png", ["overall", *scen],
                   {r["model"]: [(r["overall"]["auc"], 0.0)] + [(r["scenarios"][s]["auc"], 0.0) for s in scen]
                    for r in runs}, "test AUC", "per-scenario AUC")
    report = Report("unisr demo", f"Models trained on the simulated {preset} marketplace; the oracle row is "
                    "the AUC of the simulator's true click probabilities (the ceiling).", [table],
                    [("AUC per scenario", fig)])
    results = {"demo": "simulated", "preset": preset, "runs": runs}
    report.write(out, results)
    console.print(table.markdown())
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=Path("runs/demo"))
    ap.add_argument("--shared", type=Path, default=Path("../shared/data"))
    ap.add_argument("--preset", default="small")
    args = ap.parse_args(argv)
    console = Console()
    if simulator_available():
        demo_simulated(args.out, console, args.preset)
        return 0
    src = args.shared / "movielens-1m"
    if not src.exists():
        console.print(
            f"[red]The demo needs MovieLens-1M at {src}[/red] (the simulator is not part of this build yet).\n"
            "Download ml-1m from GroupLens, unzip it, and run `make demo SHARED=/path/to/folder/with/movielens-1m`."
        )
        return 2
    try:
        SUITES["swr-movielens"](out=args.out, data=src, seeds=1, sets=[], models=None, console=console)
    except SuiteError as e:
        console.print(f"[red]{e}[/red]")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
