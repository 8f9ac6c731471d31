"""Suite ``bomgraph`` (bench/suite_bomgraph.py): the matrix it declares, its claim rules on hand-made results
(a claim flips when the numbers do), and one real run of two rows on the tiny marketplace."""

from __future__ import annotations

import json
from pathlib import Path

from unisr.bench.suite_bomgraph import (
    DR_STEPS,
    FIG4,
    KEEP,
    METRICS,
    PAPER,
    TASKS,
    Results,
    claims,
    rows_for,
    table2,
)

ALL = ["bomgraph", "graphsage", "adaptive_gcn", "lasgnn", "msgraph"]


def test_matrix_rows_and_their_overrides() -> None:
    rows = {r.name: r for r in rows_for(ALL)}
    for m in ("graphsage", "adaptive_gcn", "lasgnn"):
        for t, scen in TASKS.items():
            assert rows[f"{m}/{t}"].sets == (f"data.scenario_kinds=[{scen}]",)
    assert rows["bomgraph"].sets == () and rows["msgraph"].sets == ()
    sk = rows["bomgraph-sk"].sets
    assert "model.subset=[search_similar,search_text]" in sk and "data.scenario_kinds=[search_similar,search_text]" in sk
    # table 4's base and full rows are table 3's rows (one run each, not two)
    assert DR_STEPS["base"] in rows and DR_STEPS["base+RD+CT+CA"] in rows
    assert "model.dr_steps=[true,false,false]" in rows["bomgraph-sk no-cl rd"].sets
    assert "model.disentangle=false" in rows["bomgraph-sk no-cl-dr"].sets
    assert "model.cross_scenario=false" in rows["bomgraph-sv no-cl-dr-cs"].sets
    assert {f"bomgraph pd {p}" for p in KEEP if p != 0.7} <= set(rows)
    assert {*FIG4.values(), 'lasgnn/S'} - {'lasgnn'} <= set(rows)
    assert len(rows) == len(rows_for(ALL))  # no duplicates
    # tables 2 only: no ablation rows; models restricts the rows
    t2 = {r.name for r in rows_for(["bomgraph", "lasgnn"], {2})}
    assert t2 == {"lasgnn/S", "lasgnn/K", "lasgnn/V", "bomgraph-sk", "bomgraph-sv", "bomgraph"}


def run_of(name: str, seed: int, scores: dict[str, float], **extra) -> dict:  # noqa: ANN003
    """A fake finished run: every metric of each scenario = its score (HR@200 a bit above)."""
    blocks = {TASKS[t]: {k: v + (0.05 if k.endswith("200") else 0.0) for k in METRICS} for t, v in scores.items()}
    return {"run_name": name, "run_seed": seed, "scenarios": blocks, **extra}


def fake(skv: float, seeds: int = 3) -> list[dict]:
    """Table-2 rows; BOMGraph-SKV at ``skv`` on every scenario, LasGNN 0.30, the others lower; seed jitter."""
    runs = []
    for s in range(seeds):
        j = 0.001 * s
        for m, v in (("graphsage", 0.20), ("adaptive_gcn", 0.22), ("lasgnn", 0.30)):
            runs += [run_of(f"{m}/{t}", s, {t: v + j}) for t in TASKS]
        runs.append(run_of("msgraph", s, {t: 0.28 + j for t in TASKS}))
        runs.append(run_of("bomgraph-sk", s, {"S": 0.33 + j, "K": 0.33 + j}))
        runs.append(run_of("bomgraph-sv", s, {"S": 0.32 + j, "V": 0.32 + j}))
        base = {"oracle_expected": {"scenarios": {TASKS[t]: {k: 0.9 for k in METRICS} for t in TASKS}}}
        runs.append(run_of("bomgraph", s, {t: skv + j * 2 for t in TASKS}, baselines=base))
    return runs


def verdicts(lines: list[list[str]], prefix: str) -> list[str]:
    return [v for c, v, _ in lines if c.startswith(prefix)]


def test_table2_claims_follow_the_numbers() -> None:
    good = claims(Results(fake(0.36), 3))
    assert verdicts(good, "4.2 (1)") == ["holds"] * 3
    assert verdicts(good, "4.2 (2) combining") == ["holds"] * 4
    assert verdicts(good, "4.2 (2) BOMGraph-") == ["holds"] * 4
    assert verdicts(good, "4.2 (3) single-scenario LasGNN") == ["holds"] * 3
    bad = claims(Results(fake(0.31), 3))  # SKV below SK / SV, above LasGNN
    assert verdicts(bad, "4.2 (1)") == ["does not hold"] * 3
    assert verdicts(bad, "4.2 (2) combining") == ["does not hold"] * 4
    # one seed: no paired test, and "significantly" needs one: ahead by the margin is untested (n/a), behind is not
    one = claims(Results(fake(0.36, seeds=1), 1))
    assert verdicts(one, "4.2 (2) BOMGraph-") == ["n/a"] * 4
    low = [r for r in fake(0.36, seeds=1) if not r["run_name"].startswith("bomgraph-")]
    low += [run_of("bomgraph-sk", 0, {"S": 0.29, "K": 0.29}), run_of("bomgraph-sv", 0, {"S": 0.29, "V": 0.29})]
    assert verdicts(claims(Results(low, 1)), "4.2 (2) BOMGraph-") == ["does not hold"] * 4


def test_table2_shows_paper_and_ceilings() -> None:
    tabs = table2(Results(fake(0.36), 3))
    assert [t.title.split(" ")[2] for t in tabs] == ["(S", "(K", "(V"]
    s = {r[0]: r for r in tabs[0].rows}
    assert s["BOMGraph-SKV"][-1] == "0.5363 / 0.1262 / 0.2077" and s["AdaptiveGCN"][-1].startswith("0.4434 / 0.0825")
    assert s["oracle (expected clicks)"][1].startswith("0.9000")
    assert "BOMGraph-SV" not in {r[0] for r in tabs[1].rows}  # K: no SV row
    assert PAPER["table2"]["V"]["BOMGraph-SKV"][0] == 0.3581


def test_ablation_and_keep_claims() -> None:
    runs = []
    for s in range(3):
        j = 0.001 * s
        for sub, tasks in (("sk", "SK"), ("sv", "SV")):
            for i, suffix in enumerate(["", " no-cl", " no-cl-dr", " no-cl-dr-cs"]):
                runs.append(run_of(f"bomgraph-{sub}{suffix}", s, {t: 0.40 - 0.02 * i + j for t in tasks}))
        runs += [run_of("bomgraph-sk no-cl rd", s, {"S": 0.371 + j}),
                 run_of("bomgraph-sk no-cl rd+ct", s, {"S": 0.375 + j})]
        for p in KEEP:
            runs.append(run_of("bomgraph" if p == 0.7 else f"bomgraph pd {p}", s, {"S": 0.5 - abs(p - 0.7) / 10 + j}))
    lines = claims(Results(runs, 3))
    assert verdicts(lines, "4.3.1 removing") == ["holds"] * 9  # 3 steps x (S, K from SK; V from SV)
    assert verdicts(lines, "4.3.1 the components") == ["does not hold"]  # the same drop in every scenario
    assert verdicts(lines, "4.3.2 base+RD+CT+CA") == ["holds"] and verdicts(lines, "4.3.2 each") == ["holds"]
    assert verdicts(lines, "4.3.2 RD gives") == ["holds"]  # +0.011 vs +0.004 / +0.005
    assert verdicts(lines, "4.5 p_d = 0.7") == ["holds"] and verdicts(lines, "4.5 the lower") == ["holds"]


def test_suite_runs_two_rows_on_tiny_data(sim_dir: Path, tmp_path: Path, unisr) -> None:
    out = tmp_path / "suite"
    unisr("benchmark", "--suite", "bomgraph", "--data", sim_dir, "--out", out, "--seeds", "1", "--set",
          "suite.tables=2", "--set", "suite.rows_only=[lasgnn/S,bomgraph]", "--set", "train.epochs=1", "--set",
          "model.dim=16", "--set", "model.id_dim=8", "--set", "model.term_dim=8", "--set", "model.negatives=3",
          "--set", "model.query_buckets=512", timeout=900)
    res = json.loads((out / "results.json").read_text())
    assert {r["run_name"] for r in res["runs"]} == {"lasgnn/S", "bomgraph"}
    report = (out / "report.md").read_text()
    assert "Table 2 (S = search_similar)" in report and "oracle (expected clicks)" in report
    assert any(c["claim"].startswith("4.2 (1) BOMGraph-SKV achieves the best results on S") for c in res["claims"])
