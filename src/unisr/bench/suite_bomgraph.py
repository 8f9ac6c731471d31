"""Suite ``bomgraph``: BOMGraph's tables 2-5 and figure 4 (Fan et al., CIKM'23, sections 4.2-4.5) re-tested on
the three search scenarios of the simulated marketplace: similar-product (S = ``search_similar``), textual
(K = ``search_text``) and visual (V = ``search_visual``) search retrieval, HR / MRR / NDCG @100 and @200 within
the query's category (every model's ``metrics.json``, the same protocol for all rows).

Declared as data: the rows (:func:`rows_for` from :data:`SINGLE`, :data:`SUBSETS`, :data:`ABLATIONS`,
:data:`DR_STEPS`, :data:`KEEP`, :data:`FIG4`), the paper's numbers (:data:`PAPER`) and its claims
(:data:`CLAIMS`).

- table 2: GraphSAGE, AdaptiveGCN and LasGNN trained and tested on one scenario each (``<model>/<S|K|V>``),
  MSGraph-SKV and BOMGraph-SK / -SV / -SKV (``msgraph``, ``bomgraph-sk``, ``bomgraph-sv``, ``bomgraph``), beside
  the retrieval ceilings of the BOMGraph-SKV runs (the expected-clicks oracle, the click-probability oracle and
  in-category popularity, each under the same queries and categories);
- table 3: BOMGraph-SK (S, K) and -SV (V) w/o CL (no dropout contrastive loss, no augmentation), w/o CL,DR,
  w/o CL,DR,CS;
- table 4 (S): base = BOMGraph-SK w/o CL,DR; base+RD; base+RD+CT; base+RD+CT+CA (= w/o CL);
- table 5 (S): BOMGraph-SKV with the dropout keep probability p_d from 0.3 to 0.9 (0.7 = the defaults' row);
- figure 4 (S): HR@100 on all items and on long-tail items (< 3 training clicks in S) by five bins of query
  popularity, for BOMGraph, w/o CL (contrastive loss off, augmentation on), w/o CL* (both off) and LasGNN.

Each claim of sections 4.2-4.5 is a line ``holds`` / ``does not hold`` with its numbers; a pairwise claim
needs a paired t-test at p < 0.05 over the seeds both rows have when there are two or more
(``verdicts.compare``), else a visible margin. Suite options (``--set suite.<key>=<value>``): ``preset``
(the simulated marketplace when no ``--data``, default small), ``tables`` (e.g. ``2,3``: only the runs those
tables need; ``4`` = figure 4), ``train``, ``record``, ``seeds_only``, ``rows_only``, ``publish`` (as every
suite, ``bench/matrix.py``).

Shapes:
    (no tensors) the simulated marketplace -> tables 2-5 / figure 4 of retrieval metrics and the claim lines
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rich.console import Console

from unisr.bench.matrix import Override, RunSpec, epoch_limit_note, invocation, run_matrix, suite_options
from unisr.bench.plots import bar_plot
from unisr.bench.provision import ensure_simulated
from unisr.bench.registry import SuiteError, suite
from unisr.bench.report import Report, ReportTable, claim_report, fmt
from unisr.bench.task_results import TaskResults
from unisr.bench.verdicts import claim_count, clearly_greater, verdict
from unisr.evaluate.stats import mean_std

TASKS = {"S": "search_similar", "K": "search_text", "V": "search_visual"}
METRICS = ["hr@100", "hr@200", "mrr@100", "mrr@200", "ndcg@100", "ndcg@200"]
MAIN = ["hr@100", "mrr@100", "ndcg@100"]  # the metrics section 4.2's improvements are stated in
SINGLE = {"graphsage": "GraphSage", "adaptive_gcn": "AdaptiveGCN", "lasgnn": "LasGNN"}
# BOMGraph's scenario subsets (table 2): row suffix -> tasks; search_similar is in every one (the paper)
SUBSETS = {"sk": ("S", "K"), "sv": ("S", "V")}
COMMON = (Override("train.progress", False),)
NO_CL = (Override("model.contrastive", False), Override("model.augment", False))
# table 3: row suffix -> (paper's label, overrides), each removing one more component
ABLATIONS = {
    "no-cl": ("w/o CL", NO_CL),
    "no-cl-dr": ("w/o CL,DR", (*NO_CL, Override("model.disentangle", False))),
    "no-cl-dr-cs": ("w/o CL,DR,CS", (*NO_CL, Override("model.disentangle", False),
                                    Override("model.cross_scenario", False))),
}
# table 4 (on BOMGraph-SK w/o CL): label -> row; dr_steps = (RD, CT, CA)
DR_STEPS = {"base": "bomgraph-sk no-cl-dr", "base+RD": "bomgraph-sk no-cl rd", "base+RD+CT": "bomgraph-sk no-cl rd+ct",
            "base+RD+CT+CA": "bomgraph-sk no-cl"}
DR_ROWS = {"bomgraph-sk no-cl rd": (True, False, False), "bomgraph-sk no-cl rd+ct": (True, True, False)}
KEEP = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]  # table 5's p_d; 0.7 is the model default (row "bomgraph")
DEFAULT_KEEP = 0.7
# figure 4: label -> row ("w/o CL": contrastive loss off, augmentation kept; "w/o CL*": both off)
FIG4 = {"BOMGraph": "bomgraph", "w/o CL": "bomgraph no-contrastive", "w/o CL*": "bomgraph no-cl",
        "LasGNN": "lasgnn"}  # its run: lasgnn/S
TAIL_CLICKS = 3  # the paper's long-tail items: fewer than three clicks

# the paper's table 2 (row label -> task -> the six metrics in METRICS order), tables 3-5 (S / K / V)
PAPER = {
    "table2": {
        "S": {"GraphSage": [0.4359, 0.5134, 0.0777, 0.0782, 0.1465, 0.1573],
              # the paper prints MRR@100 "0.825" for AdaptiveGCN (S): a typo for 0.0825 (MRR@200 is 0.0830)
              "AdaptiveGCN": [0.4434, 0.5138, 0.0825, 0.0830, 0.1531, 0.1630],
              "LasGNN": [0.4805, 0.5466, 0.1103, 0.1107, 0.1831, 0.1924],
              "MSGraph-SKV": [0.4713, 0.5382, 0.1003, 0.1005, 0.1715, 0.1809],
              "BOMGraph-SK": [0.5314, 0.5938, 0.1231, 0.1235, 0.2042, 0.2129],
              "BOMGraph-SV": [0.5234, 0.5872, 0.1207, 0.1212, 0.2005, 0.2094],
              "BOMGraph-SKV": [0.5363, 0.5976, 0.1262, 0.1266, 0.2077, 0.2163]},
        "K": {"GraphSage": [0.3967, 0.4887, 0.0739, 0.0747, 0.1279, 0.1401],
              "AdaptiveGCN": [0.4027, 0.4907, 0.0742, 0.0749, 0.1357, 0.1481],
              "LasGNN": [0.4141, 0.5019, 0.0746, 0.0791, 0.1359, 0.1479],
              "MSGraph-SKV": [0.4089, 0.4979, 0.0721, 0.0776, 0.1332, 0.1457],
              "BOMGraph-SK": [0.4344, 0.5212, 0.0851, 0.0858, 0.1513, 0.1634],
              "BOMGraph-SKV": [0.4382, 0.5237, 0.0871, 0.0877, 0.1538, 0.1657]},
        "V": {"GraphSage": [0.2633, 0.3181, 0.0511, 0.0517, 0.0897, 0.0913],
              "AdaptiveGCN": [0.2721, 0.3275, 0.0521, 0.0528, 0.0942, 0.0964],
              "LasGNN": [0.2906, 0.3434, 0.0574, 0.0577, 0.1021, 0.1095],
              "MSGraph-SKV": [0.2887, 0.3409, 0.0553, 0.0561, 0.1001, 0.1079],
              "BOMGraph-SV": [0.3526, 0.4066, 0.0691, 0.0695, 0.1246, 0.1331],
              "BOMGraph-SKV": [0.3581, 0.4189, 0.0733, 0.0737, 0.1275, 0.1351]},
    },
    # table 3: task -> label -> HR@100, NDCG@100 (the two the paper's text quotes)
    "table3": {"S": {"full": [0.5314, 0.2042], "w/o CL": [0.5110, 0.1963], "w/o CL,DR": [0.4878, 0.1857],
                     "w/o CL,DR,CS": [0.4738, 0.1743]},
               "K": {"full": [0.4344, 0.1513], "w/o CL": [0.4314, 0.1481], "w/o CL,DR": [0.4265, 0.1446],
                     "w/o CL,DR,CS": [0.4123, 0.1356]},
               "V": {"full": [0.3526, 0.1246], "w/o CL": [0.3310, 0.1157], "w/o CL,DR": [0.3101, 0.1062],
                     "w/o CL,DR,CS": [0.2906, 0.1021]}},
    "table4": {"base": [0.4878, 0.1857], "base+RD": [0.5010, 0.1924], "base+RD+CT": [0.5092, 0.1958],
               "base+RD+CT+CA": [0.5110, 0.1963]},  # S: HR@100, NDCG@100
    "table5": {0.9: [0.5329, 0.2054], 0.8: [0.5339, 0.2065], 0.7: [0.5363, 0.2077], 0.6: [0.5351, 0.2071],
               0.5: [0.5313, 0.2042], 0.4: [0.5310, 0.2046], 0.3: [0.5300, 0.2041]},  # S: HR@100, NDCG@100
}
CLAIMS = {
    "skv_best": "4.2 (1) BOMGraph-SKV achieves the best results on {task} (HR, MRR, NDCG @100)",
    "more_scenarios": "4.2 (2) combining more scenarios improves BOMGraph: SKV over {sub} on {task} (NDCG@100)",
    "two_over_lasgnn": "4.2 (2) BOMGraph-{sub} significantly outperforms LasGNN on {task} (NDCG@100)",
    "lasgnn_over_msgraph": "4.2 (3) single-scenario LasGNN outperforms MSGraph-SKV on {task} (NDCG@100)",
    "lasgnn_over_graphsage": "4.2 (3) LasGNN (metapath sampling) beats GraphSage (random sampling) on {task} "
                             "(NDCG@100)",
    "ablation": "4.3.1 removing {label} degrades BOMGraph-{sub} on {task} (HR@100 and NDCG@100)",
    "ablation_sparse": "4.3.1 the components matter more in the sparse scenarios: without CL, DR and CS, HR@100 "
                       "drops more in S and V than in K",
    "dr_best": "4.3.2 base+RD+CT+CA is the best disentangled-representation variant (S, HR@100)",
    "dr_steps": "4.3.2 each DR step adds to the one before (S, HR@100)",
    "rd_largest": "4.3.2 RD gives the largest boost of the three steps (S, HR@100)",
    "pd_best": "4.5 p_d = 0.7 yields the best result (S, HR@100)",
    "pd_lower_worse": "4.5 the lower p_d below 0.7, the worse (S, HR@100 at 0.3 < 0.5 < 0.7)",
    "tail_harder": "4.4 (1) BOMGraph's HR@100 is lower on long-tail items than on all items (S)",
    "cold_queries": "4.4 (1) BOMGraph's HR@100 is lower for the least than for the most popular queries (S)",
    "robust": "4.4 (2) BOMGraph's HR@100 > 0.4 on all and on long-tail items in every query bin (S)",
    "aug_tail": "4.4 (3) w/o CL* (no augmentation) loses more on long-tail items than on all items, relative to "
                "w/o CL (S)",
}
PAGE = {"goal": "re-test each claim of the paper's sections 4.2-4.5 (holds / does not hold, paired t-tests) "
                "beside the retrieval oracles", "history": "git log of benchmarks/results/bomgraph.json"}


def _kinds(tasks) -> tuple[str, ...]:  # noqa: ANN001
    return tuple(TASKS[t] for t in tasks)


def _subset(tasks) -> tuple[Override, ...]:  # noqa: ANN001
    """BOMGraph-SK / -SV: the graph's behaviour edges and the training rows of those scenarios only."""
    kinds = _kinds(tasks)
    return Override("model.subset", kinds), Override("data.scenario_kinds", kinds)


def rows_for(models: list[str], tables: set[int] | None = None) -> list[RunSpec]:
    """The matrix. ``tables``: a subset of {2, 3, 4, 5} (4 = table 4 and figure 4) keeps only the rows those
    need; ``models``: the suite's models (``bomgraph`` and the keys of :data:`SINGLE`, ``msgraph``)."""
    tables = tables or {2, 3, 4, 5}
    rows: dict[str, RunSpec] = {}

    def add(name: str, model: str, sets: tuple[Override, ...] = ()) -> None:
        if model in models:
            rows.setdefault(name, RunSpec(name, model, sets))

    if 2 in tables:
        for m in SINGLE:
            for t in TASKS:
                add(f"{m}/{t}", m, (Override("data.scenario_kinds", _kinds(t)),))
        add("msgraph", "msgraph")
        for sub, tasks in SUBSETS.items():
            add(f"bomgraph-{sub}", "bomgraph", _subset(tasks))
        add("bomgraph", "bomgraph")
    if 3 in tables or 4 in tables:
        for sub, tasks in SUBSETS.items():
            if 3 in tables or sub == "sk":
                add(f"bomgraph-{sub}", "bomgraph", _subset(tasks))
                for name, (_, sets) in ABLATIONS.items():
                    if 3 in tables or name in ("no-cl", "no-cl-dr"):
                        add(f"bomgraph-{sub} {name}", "bomgraph", (*_subset(tasks), *sets))
    if 4 in tables:
        for name, steps in DR_ROWS.items():
            add(name, "bomgraph", (*_subset(SUBSETS["sk"]), *NO_CL, Override("model.dr_steps", steps)))
        add("bomgraph", "bomgraph")
        add("bomgraph no-contrastive", "bomgraph", (Override("model.contrastive", False),))
        add("bomgraph no-cl", "bomgraph", NO_CL)
        add("lasgnn/S", "lasgnn", (Override("data.scenario_kinds", _kinds("S")),))
    if 5 in tables:
        for p in KEEP:
            add("bomgraph" if p == DEFAULT_KEEP else f"bomgraph pd {p}", "bomgraph",
                () if p == DEFAULT_KEEP else (Override("model.keep_prob", p),))
    return list(rows.values())


class Results:
    """Per metric (:data:`METRICS`) a ``TaskResults`` (row, task) -> {seed: value}; the ceilings of the
    BOMGraph-SKV runs (``baselines`` of their metrics.json) and figure 4's slices per row."""

    def __init__(self, runs: list[dict], seeds: int = 0) -> None:
        self.seeds = seeds
        self.by = {k: TaskResults(runs, TASKS, seeds, metric=k) for k in METRICS}
        self.ceil: dict[tuple[str, str, str], list[float]] = {}  # (baseline, task, metric) -> per seed
        self.slices: dict[str, dict[int, dict]] = {}  # row -> seed -> the S scenario's slices block
        for r in runs:
            name, seed = r["run_name"], int(r.get("run_seed", 0))
            block = r.get("scenarios", {}).get(TASKS["S"], {})
            if "slices" in block:
                self.slices.setdefault(name.removesuffix("/S"), {})[seed] = block["slices"]
            if name != "bomgraph":
                continue
            for base, b in (r.get("baselines") or {}).items():
                for t, scen in TASKS.items():
                    m = b.get("scenarios", {}).get(scen, {})
                    for k in METRICS:
                        if k in m:
                            self.ceil.setdefault((base, t, k), []).append(m[k])

    def get(self, name: str, task: str, metric: str = "ndcg@100") -> list[float]:
        return self.by[metric].get(name, task)

    def mean(self, name: str, task: str, metric: str = "ndcg@100") -> float:
        return self.by[metric].mean(name, task)

    def vs(self, a: str, b: str, task: str, metric: str = "ndcg@100", require_test: bool = False):  # noqa: ANN201
        return self.by[metric].vs(a, b, task, require_test=require_test)

    def has(self, name: str, task: str) -> bool:
        return bool(self.get(name, task))


def _line(lines: list[list[str]], claim: str, ok: bool | None, numbers: str, **fill: str) -> None:
    lines.append([CLAIMS[claim].format(**fill), verdict(ok), numbers])


def _table2_rows() -> list[tuple[str, str, tuple[str, ...]]]:
    """(label, row, its tasks) of table 2."""
    out = [(label, m, tuple(TASKS)) for m, label in SINGLE.items()]
    out.append(("MSGraph-SKV", "msgraph", tuple(TASKS)))
    out += [(f"BOMGraph-{sub.upper()}", f"bomgraph-{sub}", tasks) for sub, tasks in SUBSETS.items()]
    out.append(("BOMGraph-SKV", "bomgraph", tuple(TASKS)))
    return out


def _row(name: str, task: str) -> str:
    """A row's results name on ``task``: a single-scenario row's runs ``<model>/<task>`` are read as ``<model>``
    (``TaskResults``), a joint row's as its name."""
    del task
    return name


def _table2_claims(res: Results, lines: list[list[str]]) -> None:
    rows = _table2_rows()
    for t in TASKS:
        others = [_row(n, t) for _, n, tasks in rows if t in tasks and _row(n, t) != "bomgraph"]
        present = [o for o in others if res.has(o, t)]
        if res.has("bomgraph", t) and present:
            parts, oks = [], []
            for k in MAIN:
                runner = max(present, key=lambda o, k=k: res.mean(o, t, k))
                c = res.vs("bomgraph", runner, t, k)
                oks.append(c.ok)
                parts.append(f"{k} {res.mean('bomgraph', t, k):.4f} vs {runner} {res.mean(runner, t, k):.4f} "
                             f"({c.short})")
            _line(lines, "skv_best", all(oks), "; ".join(parts), task=t)
    for sub, tasks in SUBSETS.items():
        for t in tasks:
            row = f"bomgraph-{sub}"
            if res.has("bomgraph", t) and res.has(row, t):
                c = res.vs("bomgraph", row, t)
                _line(lines, "more_scenarios", c.ok, f"SKV {res.mean('bomgraph', t):.4f} vs {sub.upper()} "
                      f"{res.mean(row, t):.4f} ({c.short})", sub=sub.upper(), task=t)
            if res.has(row, t) and res.has("lasgnn", t):
                c = res.vs(row, "lasgnn", t, require_test=True)
                # "significantly": ahead by the margin without a paired test (one seed) cannot be tested
                ok = None if c.p != c.p and res.vs(row, "lasgnn", t).ok else c.ok
                _line(lines, "two_over_lasgnn", ok, f"{res.mean(row, t):.4f} vs {res.mean('lasgnn', t):.4f} "
                      f"({c.short}{'; significance needs 2 or more seeds' if ok is None else ''})",
                      sub=sub.upper(), task=t)
    for t in TASKS:
        las = "lasgnn"
        for other, claim in (("msgraph", "lasgnn_over_msgraph"), ("graphsage", "lasgnn_over_graphsage")):
            if res.has(las, t) and res.has(other, t):
                c = res.vs(las, other, t)
                _line(lines, claim, c.ok, f"LasGNN {res.mean(las, t):.4f} vs {other} {res.mean(other, t):.4f} "
                      f"({c.short})", task=t)


def _table3_claims(res: Results, lines: list[list[str]]) -> None:
    chain = ["", *ABLATIONS]  # full, no-cl, no-cl-dr, no-cl-dr-cs
    drops: dict[str, float] = {}
    for sub, tasks in SUBSETS.items():
        for t in tasks:
            if sub == "sv" and t == "S":
                continue  # the paper's table 3: SK for S and K, SV for V
            names = [f"bomgraph-{sub}" + (f" {a}" if a else "") for a in chain]
            for a, b, (label, _) in zip(names, names[1:], ABLATIONS.values(), strict=False):
                if res.has(a, t) and res.has(b, t):
                    cs = [res.vs(a, b, t, k) for k in ("hr@100", "ndcg@100")]
                    _line(lines, "ablation", all(c.ok for c in cs),
                          f"HR@100 {res.mean(a, t, 'hr@100'):.4f} -> {res.mean(b, t, 'hr@100'):.4f} "
                          f"({cs[0].short}); NDCG@100 {res.mean(a, t):.4f} -> {res.mean(b, t):.4f} ({cs[1].short})",
                          label=label.removeprefix("w/o ").split(",")[-1], sub=sub.upper(), task=t)
            if res.has(names[0], t) and res.has(names[-1], t):
                drops[t] = res.mean(names[0], t, "hr@100") - res.mean(names[-1], t, "hr@100")
    if set(drops) == set(TASKS):
        ok = clearly_greater(drops["S"], drops["K"]) and clearly_greater(drops["V"], drops["K"])
        _line(lines, "ablation_sparse", ok, ", ".join(f"{t} {d:+.4f}" for t, d in drops.items()))


def _table45_claims(res: Results, lines: list[list[str]]) -> None:
    hr = {label: res.mean(row, "S", "hr@100") for label, row in DR_STEPS.items() if res.has(row, "S")}
    if len(hr) == len(DR_STEPS):
        vals = list(hr.values())
        full = list(DR_STEPS)[-1]
        _line(lines, "dr_best", all(clearly_greater(hr[full], v) for k, v in hr.items() if k != full),
              ", ".join(f"{k} {v:.4f}" for k, v in hr.items()))
        _line(lines, "dr_steps", all(clearly_greater(b, a) for a, b in zip(vals, vals[1:], strict=False)),
              " -> ".join(f"{v:.4f}" for v in vals))
        gains = np.diff(vals)
        _line(lines, "rd_largest", bool(gains[0] > gains[1:].max()), "gains RD / CT / CA "
              + " / ".join(f"{g:+.4f}" for g in gains))
    keep = {p: ("bomgraph" if p == DEFAULT_KEEP else f"bomgraph pd {p}") for p in KEEP}
    if all(res.has(r, "S") for r in keep.values()):
        v = {p: res.mean(r, "S", "hr@100") for p, r in keep.items()}
        _line(lines, "pd_best", all(clearly_greater(v[DEFAULT_KEEP], x) for p, x in v.items() if p != DEFAULT_KEEP),
              ", ".join(f"{p} {x:.4f}" for p, x in v.items()))
        _line(lines, "pd_lower_worse", clearly_greater(v[0.5], v[0.3]) and clearly_greater(v[0.7], v[0.5]),
              f"0.3 {v[0.3]:.4f}, 0.5 {v[0.5]:.4f}, 0.7 {v[0.7]:.4f}")


def _fig4_cells(res: Results, row: str, k: int = 100) -> dict[str, list[float]] | None:
    """The row's figure-4 values averaged over seeds: ``all`` / ``tail`` -> [overall, bin 1..5] HR@k."""
    seeds = res.slices.get(row)
    if not seeds:
        return None
    out: dict[str, list[float]] = {}
    for part, key in (("all", "all"), ("tail", "long_tail")):  # evaluate/retrieval_slices.py's cells
        per = [[s[key][f"hr@{k}"]] + [b[f"hr@{k}"] for b in s[key]["bins"]] for s in seeds.values()]
        vals = np.asarray([[np.nan if v is None else v for v in row] for row in per], float)
        fin = np.isfinite(vals)  # an empty cell (no query in that bin) is nan, averaged over the seeds it has
        out[part] = list(np.where(fin.any(0), np.nansum(vals, 0) / np.maximum(fin.sum(0), 1), np.nan))
    first = next(iter(seeds.values()))
    out["edges"] = first.get("bin_edges", [])
    out["n"] = [first["all"]["n"], *(b["n"] for b in first["all"]["bins"])]
    out["n_tail"] = [first["long_tail"]["n"], *(b["n"] for b in first["long_tail"]["bins"])]
    return out


def _fig4_claims(res: Results, lines: list[list[str]]) -> None:
    bom = _fig4_cells(res, "bomgraph")
    if bom is None:
        return
    _line(lines, "tail_harder", clearly_greater(bom["all"][0], bom["tail"][0]),
          f"all {bom['all'][0]:.4f}, long-tail {bom['tail'][0]:.4f}")
    lo, hi = next((x for x in bom["all"][1:] if not np.isnan(x)), np.nan), \
        next((x for x in bom["all"][:0:-1] if not np.isnan(x)), np.nan)
    _line(lines, "cold_queries", clearly_greater(hi, lo), f"least popular bin {lo:.4f}, most popular bin {hi:.4f}")
    cells = np.asarray(bom["all"][1:] + bom["tail"][1:])
    _line(lines, "robust", bool(np.nanmin(cells) > 0.4), f"lowest cell {np.nanmin(cells):.4f} (empty cells "
          f"skipped: {int(np.isnan(cells).sum())})")
    no_cl, no_aug = _fig4_cells(res, FIG4["w/o CL"]), _fig4_cells(res, FIG4["w/o CL*"])
    if no_cl and no_aug:
        d_all, d_tail = no_cl["all"][0] - no_aug["all"][0], no_cl["tail"][0] - no_aug["tail"][0]
        _line(lines, "aug_tail", clearly_greater(d_tail, d_all), f"loss on all {d_all:+.4f}, long-tail {d_tail:+.4f}")


def claims(res: Results) -> list[list[str]]:
    lines: list[list[str]] = []
    _table2_claims(res, lines)
    _table3_claims(res, lines)
    _table45_claims(res, lines)
    _fig4_claims(res, lines)
    return lines


def _cell(res: Results, name: str, t: str, k: str) -> str:
    vals = res.get(name, t, k)
    return fmt(vals, n=res.seeds) if vals else "-"


def table2(res: Results) -> list[ReportTable]:
    """Per scenario: every model's six metrics, the paper's row beside, and the ceilings."""
    out = []
    ceil = {"oracle_expected": "oracle (expected clicks)", "oracle_click": "oracle (click probability)",
            "popularity": "popularity (in-category)"}
    for t in TASKS:
        rows = []
        for label, name, tasks in _table2_rows():
            if t not in tasks or not res.has(_row(name, t), t):
                continue
            paper = PAPER["table2"][t].get(label)
            rows.append([label, *(_cell(res, _row(name, t), t, k) for k in METRICS),
                         " / ".join(f"{x:.4f}" for x in paper[::2]) if paper else "-"])
        for base, label in ceil.items():
            vals = [res.ceil.get((base, t, k)) for k in METRICS]
            if all(vals):
                rows.append([label, *(fmt(v) for v in vals), "-"])
        if rows:
            out.append(ReportTable(f"Table 2 ({t} = {TASKS[t]}): test, in-category, mean ± std over {res.seeds} "
                                   "seeds", ["model", *METRICS, "paper HR / MRR / NDCG @100"], rows))
    return out


def table3(res: Results) -> ReportTable:
    rows = []
    for t in TASKS:
        sub = "sv" if t == "V" else "sk"
        for label, suffix in [("full", ""), *((lab, f" {a}") for a, (lab, _) in ABLATIONS.items())]:
            name = f"bomgraph-{sub}{suffix}"
            if res.has(name, t):
                rows.append([t, f"BOMGraph-{sub.upper()}" + ("" if label == "full" else f" {label}"),
                             _cell(res, name, t, "hr@100"), _cell(res, name, t, "ndcg@100"),
                             " / ".join(f"{x:.4f}" for x in PAPER["table3"][t][label])])
    return ReportTable("Table 3: ablations (CL = dropout contrastive loss + augmentation)",
                       ["task", "model", "hr@100", "ndcg@100", "paper HR / NDCG @100"], rows)


def table45(res: Results) -> list[ReportTable]:
    t4 = [[label, _cell(res, row, "S", "hr@100"), _cell(res, row, "S", "mrr@100"), _cell(res, row, "S", "ndcg@100"),
           " / ".join(f"{x:.4f}" for x in PAPER["table4"][label])]
          for label, row in DR_STEPS.items() if res.has(row, "S")]
    t5 = [[str(p), _cell(res, r, "S", "hr@100"), _cell(res, r, "S", "mrr@100"), _cell(res, r, "S", "ndcg@100"),
           " / ".join(f"{x:.4f}" for x in PAPER["table5"][p])]
          for p in KEEP if res.has(r := ("bomgraph" if p == DEFAULT_KEEP else f"bomgraph pd {p}"), "S")]
    head = ["hr@100", "mrr@100", "ndcg@100", "paper HR / NDCG @100"]
    return [ReportTable("Table 4: disentangled-representation steps on BOMGraph-SK w/o CL (S)", ["model", *head], t4),
            ReportTable("Table 5: dropout keep probability p_d of BOMGraph-SKV (S)", ["p_d", *head], t5)]


def fig4_table(res: Results) -> ReportTable:
    rows = []
    for label, row in FIG4.items():
        cells = _fig4_cells(res, row)
        if cells is None:
            continue
        for part in ("all", "tail"):
            rows.append([label, "all items" if part == "all" else f"long-tail (< {TAIL_CLICKS} clicks)",
                         *("-" if np.isnan(x) else f"{x:.4f}" for x in cells[part])])
        edges = cells["edges"]
    if rows:  # the bins' sizes (queries; long-tail queries) and edges (training clicks of the trigger)
        rows.append(["(queries)", "all / long-tail",
                     *(f"{a} / {b}" for a, b in zip(cells["n"], cells["n_tail"], strict=False))])
        rows.append(["(bin edges)", "clicks", "-", *(f"{lo:.0f}-{hi:.0f}" for lo, hi in zip(edges, edges[1:],
                                                                                          strict=False))])
    return ReportTable("Figure 4 (S): HR@100 overall and by query-popularity bin (1 = least popular; equal width "
                       "on log(1 + training clicks of the trigger))",
                       ["model", "items", "overall", "bin 1", "bin 2", "bin 3", "bin 4", "bin 5"], rows)


def _figures(res: Results, out: Path) -> list[tuple[str, Path]]:
    names = [(label, name) for label, name, _ in _table2_rows()]
    series = {label: [mean_std(res.get(_row(n, t), t, "hr@100")) if res.has(_row(n, t), t) else (0.0, 0.0)
                      for t in TASKS] for label, n in names if any(res.has(_row(n, t), t) for t in TASKS)}
    if not series:
        return []
    fig = bar_plot(out / "hr100.png", [f"{t} ({s})" for t, s in TASKS.items()], series, "test HR@100 (in-category)",
                   "BOMGraph suite, table 2: HR@100 per search scenario")
    return [("test HR@100 per search scenario of every table-2 row (0 = not run; error bars: std over seeds)", fig)]


def _tables_option(raw) -> set[int]:  # noqa: ANN001
    try:
        tables = {int(t) for t in (raw if isinstance(raw, list) else str(raw).split(","))}
    except ValueError as e:
        raise SuiteError(f"suite.tables={raw!r}: expected a comma-separated subset of 2,3,4,5") from e
    if not tables <= {2, 3, 4, 5}:
        raise SuiteError(f"suite.tables: {sorted(tables - {2, 3, 4, 5})} are not tables of this suite (2-5; 4 = "
                         "table 4 and figure 4)")
    return tables


MODELS = ["bomgraph", *SINGLE, "msgraph"]


@suite("bomgraph")
def bomgraph_suite(out: Path, data: Path | None, seeds: int, sets: list[str], models: list[str] | None,
                   console: Console) -> dict:
    """BOMGraph's tables 2-5, figure 4 and the claims of its sections 4.2-4.5 on the simulated marketplace."""
    out = Path(out)
    opts, sets = suite_options(sets, {"preset": "small", "tables": "2,3,4,5"})
    data = ensure_simulated(data, out, str(opts["preset"]), console)
    models = models or MODELS
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        raise SuiteError(f"--models: {unknown} are not in this suite ({', '.join(MODELS)})")
    tables = _tables_option(opts["tables"])
    runs = run_matrix(rows_for(models, tables), data, out, seeds, [*COMMON, *sets], console,
                      train_missing=bool(opts["train"]), record=opts["record"] or None,
                      seeds_only=opts["seeds_only"], rows_only=opts["rows_only"])
    if not runs:
        raise SuiteError(f"no finished runs under {out / 'runs'} for these tables and models")
    res = Results(runs, seeds)
    out_tables = table2(res) if 2 in tables else []
    if 3 in tables:
        out_tables.append(table3(res))
    t4, t5 = table45(res)
    out_tables += [t for k, t in ((4, t4), (5, t5)) if k in tables and t.rows]
    if 4 in tables:
        out_tables.append(fig4_table(res))
    lines = claims(res)
    report = Report(
        "bomgraph: multi-scenario search retrieval (BOMGraph, CIKM'23, tables 2-5, figure 4)",
        f"Data: {data}. Scenarios S = {TASKS['S']}, K = {TASKS['K']}, V = {TASKS['V']}; test queries ranked within "
        "their category (level 2; a visual query's category from the image classifier) over every item, "
        "exact search. Every row: the same graph (CE / OE / SE edges from the training window), node features, "
        "in-category negatives and supervised InfoNCE (eq. 13), Adagrad, early stopping on the validation "
        f"NDCG@100 (best epoch restored); {seeds} seeds. Ceilings (BOMGraph-SKV runs' protocol): the "
        "expected-clicks oracle (the simulator's own retrieval and ranker), the click-probability oracle and "
        "in-category popularity; no observable (GBDT) ceiling applies to retrieval (docs/models/bomgraph.md). "
        f"Run-wide overrides: {' '.join(o.text() for o in sets) or 'none'}.",
        out_tables, _figures(res, out),
    )
    results = claim_report(out, "bomgraph", seeds, data, runs, lines, epoch_limit_note(runs), report,
                           "The paper's claims (sections 4.2-4.5) on this data", console)
    if opts["publish"]:
        _publish(Path(opts["publish"]), report, res, lines, out)
    return results


def _publish(path: Path, report: Report, res: Results, lines: list[list[str]], out: Path) -> None:
    """The page's bomgraph section: HR@100 / NDCG@100 of table 2 per scenario and the claim count (the full
    report and every claim line beside it)."""
    from unisr.bench.page import publish

    rows = []
    for label, name, tasks in _table2_rows():
        cells = [f"{res.mean(_row(name, t), t, 'hr@100'):.3f} / {res.mean(_row(name, t), t):.3f}"
                 if t in tasks and res.has(_row(name, t), t) else "-" for t in TASKS]
        if any(c != "-" for c in cells):
            rows.append([label, *cells])
    for base, label in (("oracle_expected", "oracle (expected clicks)"), ("popularity", "popularity")):
        if all(res.ceil.get((base, t, "ndcg@100")) for t in TASKS):
            rows.append([label, *(f"{np.mean(res.ceil[(base, t, 'hr@100')]):.3f} / "
                                  f"{np.mean(res.ceil[(base, t, 'ndcg@100')]):.3f}" for t in TASKS)])
    count = claim_count(lines)
    skv = " ".join(f"{t} {res.mean('bomgraph', t, 'hr@100'):.3f}" for t in TASKS if res.has("bomgraph", t))
    table = ReportTable("Table 2: test HR@100 / NDCG@100, in-category", ["model", *TASKS], rows)
    notes = [lines[0][2], f"claims: {count} (every line in the report)"]
    done = min((len(res.get(_row(n, t), t)) for _, n, tasks in _table2_rows() for t in tasks
                if res.has(_row(n, t), t)), default=0)
    missing = [lab for lab, n, tasks in _table2_rows() if not any(res.has(_row(n, t), t) for t in tasks)]
    notes.insert(0, f"rows missing from table 2: {', '.join(missing) or 'none'}")
    publish(path, report.title, f"BOMGraph-SKV HR@100 {skv}; {count} ({done} of {res.seeds} seeds)", [table], notes,
            {**PAGE, "command": invocation()}, out / "report.md")
