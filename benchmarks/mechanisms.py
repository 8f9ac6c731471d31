"""Learnability of each data-version-2 mechanism: a simple model's AUC gain from the observable feature the
mechanism acts through, with the mechanism at its default strength and at 0 (docs/SIMULATOR.md).

    .venv/bin/python benchmarks/mechanisms.py [--preset small] [--seeds 0 1 2] [--out benchmarks/results/mechanisms.json]

Simulates v2 once with every mechanism at its default and once per mechanism with only that one at 0, runs
``unisr.simulate.measure``'s check of that mechanism on both, and on the default data the per-scenario oracle
AUCs (with / without the position term) and the measured-only mechanisms (intent flow, scenario-specific
content, long-tail transfer, multi-feed overlap). Also times v1 and v2 on the same preset (events/s).
Everything is repeated per seed (``--seeds``); the oracle and measured-only parts are kept for the first seed.

Shapes:
    (no tensors) preset -> benchmarks/results/mechanisms.json (+ a markdown table on stdout)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import cpu_model  # noqa: E402
from unisr.bench.page import mechanism_summary  # noqa: E402
from unisr.simulate import measure as M  # noqa: E402
from unisr.simulate import simulate  # noqa: E402

CHECKS = {
    "view_conversion": lambda d: M.check_view_conversion(d),
    "cross_overlap": lambda d: M.check_cross_overlap(d),
    "social_diffusion": lambda d: M.check_social_diffusion(d),
    "leaf_specificity": lambda d: M.check_leaf_specificity(d),
}


def _gains(res: dict) -> dict[str, float]:
    """The gain(s) of one check's result: {'': gain} or {'search': gain, 'feed': gain}."""
    if "gain" in res:
        return {"": res["gain"]}
    return {k: v["gain"] for k, v in res.items() if isinstance(v, dict) and "gain" in v}


def _fmt(r: dict) -> str:
    """A gain with its bootstrap standard error (``measure._boot_se``), e.g. ``+0.0025 (0.0011)``."""
    return f"{r['gain']:+.4f} ({r.get('gain_se', float('nan')):.4f})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="small")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/mechanisms.json"))
    a = ap.parse_args()
    started = time.perf_counter()
    result: dict = {"command": "python benchmarks/mechanisms.py " + " ".join(sys.argv[1:]), "preset": a.preset,
                    "seeds": a.seeds, "date": dt.date.today().isoformat(),
                    "machine": {"cpu": cpu_model(), "nproc": os.cpu_count(), "loadavg_start": os.getloadavg()},
                    "throughput_events_per_s": {}, "n_events": {}, "mechanisms": {n: {} for n in CHECKS}}
    for seed in a.seeds:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            v1 = simulate(a.preset, tmp / "v1", seed=seed, overrides={"version": 1})  # v2 is the default
            on = simulate(a.preset, tmp / "on", seed=seed, overrides={"version": 2})
            result["throughput_events_per_s"][seed] = {"v1": v1.n_events / v1.seconds, "v2": on.n_events / on.seconds}
            result["n_events"][seed] = {"v1": v1.n_events, "v2": on.n_events}
            if seed == a.seeds[0]:
                result["oracle"] = M.oracle_table(tmp / "on")
                result["measured"] = {
                    "intent_flow": M.measure_intent_flow(tmp / "on"),
                    "scenario_content": M.measure_scenario_content(tmp / "on"),
                    "long_tail_transfer": M.measure_long_tail_transfer(tmp / "on"),
                    "multi_feed_overlap": M.measure_multi_feed_overlap(tmp / "on"),
                }
            for name, check in CHECKS.items():
                off_dir = tmp / f"off_{name}"
                simulate(a.preset, off_dir, seed=seed, overrides={"version": 2, f"mechanisms.{name}.strength": 0})
                result["mechanisms"][name][seed] = {"on": check(tmp / "on"), "off": check(off_dir)}
                print(f"seed {seed} {name}: done ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    result["summary"] = mechanism_summary(result)  # the page figure's count, written beside its numbers
    result["seconds"] = time.perf_counter() - started
    result["machine"]["loadavg_end"] = os.getloadavg()
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=1, default=float) + "\n")
    print("| mechanism | check | AUC without -> with, on (first seed) | gain (se) on, per seed | gain (se) off, per seed |")
    print("|---|---|---|---|---|")
    for name, per_seed in result["mechanisms"].items():
        first = per_seed[a.seeds[0]]
        for part in _gains(first["on"]):
            pick = (lambda r: r) if part == "" else (lambda r, p=part: r[p])  # noqa: E731
            r0 = pick(first["on"])
            g_on = " / ".join(_fmt(pick(per_seed[sd]["on"])) for sd in a.seeds)
            g_off = " / ".join(_fmt(pick(per_seed[sd]["off"])) for sd in a.seeds)
            print(f"| {name} | {part or '-'} | {r0['auc_without']:.4f} -> {r0['auc_with']:.4f} | {g_on} | {g_off} |")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
