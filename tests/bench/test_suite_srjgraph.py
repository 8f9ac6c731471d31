"""The srjgraph suite: its run matrix, RelaImpr, and the claim lines computed from (hand-made) run results."""

import pytest

from unisr.bench.matrix import Override
from unisr.bench.suite_srjgraph import (
    BASELINES,
    JOINT,
    JOINT_MONITOR,
    Results,
    claims,
    joint_sets,
    rela_impr,
    rows_for,
)


def test_rela_impr_is_paper_eq_15():
    assert rela_impr(0.6376, 0.6212) == pytest.approx(13.53, abs=0.01)  # table 3, SRJGraph vs DNN (search)
    assert rela_impr(0.6, 0.6) == 0.0


def test_rows_cover_tables_3_to_7():
    rows = {r.name: r for r in rows_for([*BASELINES, "srjgraph"])}
    assert rows["dnn/search"].sets == ("data.scenarios=[search_text]",)
    assert rows["jsr-dnn"].sets == ("data.scenarios=[search_text,feed_main]", JOINT_MONITOR.text())
    assert "data.history_scenarios=[feed_main]" in rows["aem_din/rec"].sets
    assert "data.history_scenarios=[search_text,feed_main]" in rows["jsr-tem"].sets
    assert "model.user_widths=[25,1,10,1]" in rows["srjgraph depth 4"].sets
    assert "model.item_widths=[1,10,1]" in rows["srjgraph width 10,4"].sets
    assert "model.upstream=false" in rows["srjgraph no-upstream"].sets
    assert len(rows) == 9 * 3 + 1 + 3 + 3 + 3
    only3 = [r.name for r in rows_for(["dnn", "srjgraph"], {3})]
    assert only3 == ["dnn/search", "dnn/rec", "srjgraph"]


def test_joint_rows_get_one_step_cap_per_task():
    """Under a step cap a joint row alternates search and rec batches, so it gets twice the cap: each task
    then sees as many samples as its single-scenario model. The last cap given wins; no cap, no override."""
    sets = [Override.parse(s) for s in ("train.max_steps_per_epoch=50", "train.threads=1",
                                        "train.max_steps_per_epoch=100")]
    joint = joint_sets(sets)
    assert joint == (JOINT, JOINT_MONITOR, Override("train.max_steps_per_epoch", 200))
    assert [o.text() for o in joint] == ["data.scenarios=[search_text,feed_main]", JOINT_MONITOR.text(),
                                         "train.max_steps_per_epoch=200"]
    assert joint_sets(sets, step_parity=False) == (JOINT, JOINT_MONITOR)
    assert joint_sets([Override.parse("train.threads=1")]) == (JOINT, JOINT_MONITOR)
    rows = {r.name: r for r in rows_for(["dnn", "srjgraph"], {3, 4, 5}, joint)}
    assert rows["jsr-dnn"].overrides == joint and rows["srjgraph"].overrides == joint
    assert rows["srjgraph no-query"].sets == (*(o.text() for o in joint), "model.query_on_edges=false")
    assert rows["dnn/search"].sets == ("data.scenarios=[search_text]",)


def test_joint_rows_select_on_the_mean_of_per_scenario_aucs():
    """A joint row's best epoch is chosen on the mean of the search and rec validation AUCs, not on the AUC
    pooled over both scenarios' events; a user's own train.monitor wins."""
    from unisr.train.trainer import lookup_metric

    assert JOINT_MONITOR.text() == "train.monitor=scenarios.search_text.auc+scenarios.feed_main.auc"
    valid = {"overall": {"auc": 0.9}, "scenarios": {"search_text": {"auc": 0.58}, "feed_main": {"auc": 0.68}}}
    assert lookup_metric(valid, JOINT_MONITOR.value) == pytest.approx(0.63)
    assert joint_sets([Override.parse("train.monitor=auc")]) == (JOINT,)


def _run(name: str, seed: int, search: float | None, rec: float | None) -> dict:
    scen = {}
    if search is not None:
        scen["search_text"] = {"auc": search, "oracle_auc": 0.8}
    if rec is not None:
        scen["feed_main"] = {"auc": rec, "oracle_auc": 0.7}
    return {"run_name": name, "seed": seed, "scenarios": scen}


def test_claims_verdicts_follow_the_numbers():
    runs = []
    for s in range(3):
        e = 0.001 * s
        runs += [_run("dnn/search", s, 0.60 + e, None), _run("dnn/rec", s, None, 0.62 + e),
                 _run("aem_din/search", s, 0.61 + e, None), _run("aem_din/rec", s, None, 0.63 + e),
                 _run("tem/search", s, 0.615 + e, None), _run("tem/rec", s, None, 0.625 + e),
                 _run("jsr-dnn", s, 0.605 + e, 0.61 + e),  # joint hurts recommendation here
                 _run("srjgraph", s, 0.65 + 2 * e, 0.66 + e),
                 _run("srjgraph no-query", s, 0.64 + e, 0.665 + e)]
    res = Results(runs)
    assert res.get("dnn", "search") == pytest.approx([0.600, 0.601, 0.602])
    assert res.get("dnn", "rec") == pytest.approx([0.620, 0.621, 0.622])
    verdict = {c: v for c, v, _ in claims(res)}
    assert verdict["5.4 DNN performs the worst of the single-scenario baselines (search)"] == "holds"
    assert verdict["5.4 AEM+DIN outperforms TEM (search)"] == "does not hold"
    assert verdict["5.4 AEM+DIN outperforms TEM (rec)"] == "holds"
    assert verdict["5.5 joint learning (JSR) improves every baseline (search)"] == "holds"
    assert verdict["5.5 joint learning (JSR) improves every baseline (rec)"] == "does not hold"
    assert verdict["5.6.1 SRJGraph w/o query is worse than SRJGraph on both tasks"] == "does not hold"
    assert verdict["5.4 SRJGraph is the best model, significantly (p < 0.05) over the runner-up (search)"] == "holds"
    assert res.oracle["search"] == [0.8, 0.8, 0.8]
    # "significantly": a clear lead on one seed each has no paired test, so it is not a significant win
    one = {c: (v, n) for c, v, n in claims(Results([_run("dnn/search", 0, 0.60, None), _run("dnn/rec", 0, None, 0.6),
                                                     _run("srjgraph", 0, 0.70, 0.70)]))}
    v, n = one["5.4 SRJGraph is the best model, significantly (p < 0.05) over the runner-up (search)"]
    assert v == "does not hold" and "no paired test (1 vs 1 seeds, 1 in common)" in n
    # a tie (4e-5 AUC) is no evidence: an ablation is "worse" only by a visible margin on both tasks
    tie = Results([_run("srjgraph", 0, 0.65, 0.66), _run("srjgraph no-intention", 0, 0.64996, 0.64),
                   _run("srjgraph no-upstream", 0, 0.64, 0.64)])
    tv = {c: v for c, v, _ in claims(tie)}
    assert tv["5.6.1 SRJGraph w/o intention is worse than SRJGraph on both tasks"] == "does not hold"
    assert tv["5.6.1 SRJGraph w/o upstream is worse than SRJGraph on both tasks"] == "holds"
    # a row with fewer finished seeds than asked for says so
    from unisr.bench.suite_srjgraph import _fmt

    assert _fmt(Results(runs, 3), [0.5, 0.6]).endswith("(n=2)") and "n=" not in _fmt(Results(runs, 3), [0.5] * 3)


def test_paired_tests_pair_by_seed():
    """SRJGraph on seeds 0-4 against a baseline on seeds 2-4: the test pairs seeds 2, 3, 4 (not list positions)
    and says so; with fewer than two common seeds there is no paired test and no significant win."""
    # the baseline's seed k is SRJGraph's seed k minus 0.01 exactly; by list position it would look unrelated
    srj = {s: 0.60 + 0.01 * s * (s % 2) for s in range(5)}
    runs = [_run("srjgraph", s, v, v) for s, v in srj.items()]
    runs += [_run("nfm/search", s, srj[s] - 0.01 - 0.0001 * s, None) for s in (2, 3, 4)]
    res = Results(runs, 5)
    x, y, seeds = res.paired("srjgraph", "nfm", "search")
    assert seeds == [2, 3, 4] and x == pytest.approx([srj[2], srj[3], srj[4]])
    assert y == pytest.approx([srj[s] - 0.01 - 0.0001 * s for s in (2, 3, 4)])
    ok, text = res.vs("srjgraph", "nfm", "search", require_test=True)
    assert ok and "over the 3 seeds both have (2, 3, 4)" in text
    lone = Results([*runs[:2], _run("nfm/search", 1, 0.5, None), _run("nfm/search", 3, 0.5, None)], 5)
    ok, text = lone.vs("srjgraph", "nfm", "search", require_test=True)
    assert not ok and "no paired test (2 vs 2 seeds, 1 in common)" in text


def test_ablation_and_joint_claims_need_a_paired_test_when_seeds_allow():
    """With several seeds an ablation is "worse" (and a JSR row "better") only by a paired t-test at p < 0.05
    on the seeds both rows have, not by a lead of the means alone; the claim line gives the p-values."""
    full = [0.600, 0.610, 0.605, 0.615, 0.608]
    noisy = [0.590, 0.618, 0.596, 0.611, 0.600]  # mean 0.0026 lower, but one seed ahead: p ~ 0.25
    clear = [f - 0.004 - 0.0005 * (s % 2) for s, f in enumerate(full)]  # 0.004-0.0045 lower on every seed
    runs = [_run("srjgraph", s, f, f) for s, f in enumerate(full)]
    runs += [_run("srjgraph no-query", s, v, v) for s, v in enumerate(noisy)]
    runs += [_run("srjgraph no-upstream", s, v, v) for s, v in enumerate(clear)]
    runs += [_run("dnn/search", s, f - 0.01, None) for s, f in enumerate(noisy)]
    runs += [_run("dnn/rec", s, None, 0.59 + 0.001 * s) for s in range(5)]
    runs += [_run("jsr-dnn", s, f - 0.007, 0.6) for s, f in enumerate(full)]  # search +0.0076 on the mean, p ~ 0.08
    lines = {c: (v, n) for c, v, n in claims(Results(runs, 5))}
    v, n = lines["5.6.1 SRJGraph w/o query is worse than SRJGraph on both tasks"]
    assert v == "does not hold" and "p=0.2" in n
    v, n = lines["5.6.1 SRJGraph w/o upstream is worse than SRJGraph on both tasks"]
    assert v == "holds" and "p=" in n and "margin only" not in n
    v, n = lines["5.5 joint learning (JSR) improves every baseline (search)"]
    assert v == "does not hold" and n.startswith("dnn +") and "p=" in n
    # seeds in common only: the line names them
    part = Results([*runs, *(_run("nfm/search", s, 0.55, None) for s in (0, 1, 2)), _run("nfm/rec", 0, None, 0.55),
                    *(_run("jsr-nfm", s, 0.51 + 0.001 * s * s, 0.6) for s in range(5))], 5)
    n = {c: n for c, _, n in claims(part)}["5.5 joint learning (JSR) improves every baseline (search)"]
    assert "nfm" in n and "seeds 0,1,2" in n
