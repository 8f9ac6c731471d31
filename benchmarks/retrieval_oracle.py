"""The retrieval oracle on simulated data: the ceiling beside every matching model's HR / Recall / NDCG / MRR.

    .venv/bin/python benchmarks/retrieval_oracle.py --data /tmp/sim_small

The test split's queries, targets and exclusions are made exactly as a matching run makes them
(``train.matching.retrieval_split``: the model's ``Pipeline``, ``collect_queries`` with one query per (user,
scenario), the train + valid clicks excluded per ``train.matching.exclude``). Each query's corpus is ranked by
``evaluate.retrieval_oracle.evaluate_oracle`` (the simulator's true position-free click probability, mean over
the query's clicked events; the world rebuilt from ``dataset.yaml`` by ``simulate.truth_scores.SimTruth``) and,
side by side under the same protocol, by the popularity baseline (training clicks per item and scenario) that
``train_matching`` reports. Twice: over the whole corpus, and within the query's level-2 category (the item's
``category_path`` level 2; a text / visual query's ``queries.category`` leaf mapped to its level 2, a
similar-product search's trigger item's; search scenarios only, feeds have no query category). The exactness
check (``truth_scores.check_truth``: re-scored shown impressions against ``truth.parquet``) runs first.
Writes ``benchmarks/results/retrieval_oracle.json`` (``unisr-benchmark/1``, read by ``unisr benchmark --page``).

Shapes:
    (no tensors) a simulated dataset -> per-scenario metric blocks of oracle and popularity
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import write_result  # noqa: E402
from unisr.data.features import FeatureEncoder  # noqa: E402
from unisr.data.gate import load_spec, open_gate  # noqa: E402
from unisr.evaluate.retrieval import (  # noqa: E402
    Interactions,
    Queries,
    collect_queries,
    evaluate_retrieval,
    popularity_corpus,
)
from unisr.evaluate.retrieval_oracle import evaluate_oracle, select_queries  # noqa: E402
from unisr.pipeline.pipeline import Pipeline  # noqa: E402
from unisr.simulate.truth_scores import SimTruth, TruthError, check_truth  # noqa: E402
from unisr.train.run import run_config  # noqa: E402

KS = [10, 50, 100, 200]
METRICS = ("hr", "recall", "ndcg", "mrr")
SEARCH = ("search_text", "search_visual", "search_similar")


@dataclasses.dataclass
class Setup:
    """Everything the two rankings share: the pipeline's test queries, the exclusions, categories, truth."""

    names: list[str]
    kinds: dict[str, str]
    n_items: int
    train: Interactions
    excluded: Interactions
    queries: Queries  # whole corpus; ``category`` = the query's level-2 category (-1 = none: feeds)
    item_category: np.ndarray  # [N + 1] level-2 category per item entity (-1 = OOV row)
    truth: SimTruth
    item_ids: np.ndarray
    mcfg: object


def query_level2(root: Path, truth: SimTruth) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per event row of ``truth.ev`` its query's level-2 category (-1 none) and the item table's
    (sorted item ids, level-2 category) arrays."""
    t = pq.read_table(root / "items.parquet", columns=["item_id", "category_path"])
    path = np.asarray(t["category_path"].combine_chunks().values.to_numpy()).reshape(t.num_rows, -1)
    ids = t["item_id"].to_numpy()
    o = np.argsort(ids)
    ids, l2 = ids[o], path[o, 1].astype(np.int64)
    leaf_l2 = np.full(int(path[:, -1].max()) + 1, -1, np.int64)
    leaf_l2[path[:, -1]] = path[:, 1]
    q = pq.read_table(root / "queries.parquet", columns=["query_id", "category"])
    qid, qcat = q["query_id"].to_numpy(), q["category"].fill_null(-1).to_numpy().astype(np.int64)
    qo = np.argsort(qid)
    qid, qcat = qid[qo], qcat[qo]
    ev = truth.ev
    assert ev is not None
    out = np.full(len(ev["event_id"]), -1, np.int64)
    has_q = ev["query_id"] >= 0
    pos = np.minimum(np.searchsorted(qid, ev["query_id"][has_q]), len(qid) - 1)
    found = qid[pos] == ev["query_id"][has_q]
    c = np.where(found, qcat[pos], -1)
    out[has_q] = np.where((c >= 0) & (c < len(leaf_l2)), leaf_l2[np.clip(c, 0, len(leaf_l2) - 1)], -1)
    trig = ev["trigger_item_id"] >= 0  # a similar-product search: the trigger item's level-2 category
    tp = np.minimum(np.searchsorted(ids, ev["trigger_item_id"][trig]), len(ids) - 1)
    out[trig] = np.where(ids[tp] == ev["trigger_item_id"][trig], l2[tp], -1)
    return out, ids, l2


def prepare(data: Path, model: str = "dssm", sets: list[str] | None = None, ks: list[int] | None = None) -> Setup:
    """The test split's queries as a matching run of ``model`` makes them (its config's exclusion scope);
    metrics at the cut-offs ``ks`` (default :data:`KS`)."""
    spec = load_spec(data)
    cfg = run_config(model, data, sets=sets, spec=spec)
    gate = open_gate(data, spec)
    gate.enforce(cfg.data.on_bad_rows)
    encoder = FeatureEncoder.fit(data, spec, embed_dim=cfg.data.embed_dim, embed_dims=cfg.data.embed_dims,
                                 inputs=cfg.data.inputs.effective())
    pipe = Pipeline.open(cfg, data, encoder)
    schema = encoder.schema
    n_items, names = schema.num_items, list(schema.scenarios)
    item_ids = np.asarray(encoder.item_ids, np.int64)
    if len(item_ids) != n_items:
        raise TruthError(f"{data}: encoder has {len(item_ids)} item ids for {n_items} item entities")
    mcfg = cfg.train.matching.model_copy(update={"ks": list(ks or KS)})
    truth = SimTruth(data)
    qcat_rows, ids, l2 = query_level2(data, truth)
    ev_ids = truth.ev["event_id"]

    def category(b) -> torch.Tensor:  # noqa: ANN001
        pos = np.minimum(np.searchsorted(ev_ids, b.event_id.numpy()), len(ev_ids) - 1)
        return torch.as_tensor(qcat_rows[pos])

    train = Interactions.from_batches(pipe.batches("train"))
    excluded = train + Interactions.from_batches(pipe.batches("valid"))
    q = collect_queries(lambda b: torch.zeros(len(b), 1), pipe.batches("test"), len(names), excluded, n_items,
                        mcfg.exclude, category=category)
    item_category = np.full(n_items + 1, -1, np.int64)
    item_category[1:] = l2[np.searchsorted(ids, item_ids)]
    kinds = {s.name: s.kind.value for s in spec.scenarios}
    return Setup(names, kinds, n_items, train, excluded, q, item_category, truth, item_ids, mcfg)


def measure(st: Setup, in_category: bool, chunk: int = 256, draws: int = 256, seed: int = 0,
            check_seed: bool = False) -> dict:
    """{"oracle": block, "oracle_exposure": block, "popularity": block, ...} over the whole corpus or within the
    category (``draws``: Monte-Carlo replicas of each request for the expected-clicks oracle, 0 = skip it;
    ``check_seed``: measure it again with the next seed, ``mc_seed_spread`` = how far apart the two are)."""
    kinds = SEARCH if in_category else (*SEARCH, "recommend")  # share panels' clicks are on users, not items
    q = select_queries(st.queries, np.isin(st.queries.scenario, [i for i, n in enumerate(st.names) if st.kinds.get(n) in kinds]))
    if not in_category:
        q = dataclasses.replace(q, category=None)
    cat = st.item_category if in_category else None
    t0 = time.perf_counter()
    oracle = evaluate_oracle(q, st.truth.entity_scorer(st.item_ids), st.excluded, st.names, st.mcfg, st.n_items,
                             item_category=cat, chunk=chunk)
    t1 = time.perf_counter()
    def exposure_oracle(mc_seed: int) -> dict:
        return evaluate_oracle(q, st.truth.entity_scorer(st.item_ids, exposure=True, draws=draws, seed=mc_seed),
                               st.excluded, st.names, st.mcfg, st.n_items, item_category=cat, chunk=chunk)

    exposure = exposure_oracle(seed) if draws else None
    t2 = time.perf_counter()
    spread = mc_spread(exposure, exposure_oracle(seed + 1)) if draws and check_seed else None
    pop_q = dataclasses.replace(q, vectors=np.ones((len(q.user), 1), np.float32))
    pop = evaluate_retrieval(pop_q, popularity_corpus(st.train, st.n_items, len(st.names)), st.excluded, st.names,
                             st.mcfg, item_category=cat)
    return {"oracle": oracle, "oracle_exposure": exposure,
            "popularity": {"overall": pop["overall"], "scenarios": pop["scenarios"]},
            "oracle_seconds": round(t1 - t0, 2), "oracle_exposure_seconds": round(t2 - t1, 2), "draws": draws,
            "mc_seed_spread": spread, "queries": len(q.user)}


def mc_spread(a: dict, b: dict, min_queries: int = 100) -> dict:
    """Largest |a - b| over the metrics of two Monte-Carlo seeds of the expected-clicks oracle: overall, and over
    the scenarios with at least ``min_queries`` queries (with the cell where it is)."""
    overall = max(abs(a["overall"][k] - b["overall"][k]) for k in a["overall"] if k != "n")
    cells = [(abs(a["scenarios"][n][k] - b["scenarios"][n][k]), n, k) for n in a["scenarios"]
             if a["scenarios"][n]["n"] >= min_queries for k in a["scenarios"][n] if k != "n"]
    worst = max(cells) if cells else (0.0, "-", "-")
    return {"overall": overall, "scenarios": worst[0], "where": f"{worst[1]} {worst[2]}", "min_queries": min_queries}


def _rows(res: dict) -> list[tuple[str, list[dict]]]:
    """(scenario, [oracle, expected-clicks oracle, popularity] blocks) rows, then overall."""
    parts = [res["oracle"], res["oracle_exposure"] or res["oracle"], res["popularity"]]
    names = [*res["oracle"]["scenarios"], "overall"]
    return [(n, [p["scenarios"][n] if n != "overall" else p["overall"] for p in parts]) for n in names]


PAGE_CELLS = ("hr@10", "hr@100", "mrr@100", "ndcg@100")  # the page's columns; every metric @ every K is in "results"


def tables(res: dict, label: str) -> list[dict]:
    """One page table per protocol: each cell click oracle / expected-clicks oracle / popularity."""
    rows = [[name, f"{b[0]['n']:,}", *[" / ".join(f"{x[c]:.3f}" for x in b) for c in PAGE_CELLS]]
            for name, b in _rows(res)]
    return [{"title": f"{label}: click oracle / expected-clicks oracle / popularity (every metric at every K: "
                      "the file's results)", "header": ["scenario", "queries", *PAGE_CELLS], "rows": rows}]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--model", default="dssm", help="the matching model whose config gives the protocol")
    ap.add_argument("--set", dest="sets", action="append", default=[], help="config key=value (repeatable)")
    ap.add_argument("--results", type=Path, default=Path(__file__).resolve().parent / "results"
                    / "retrieval_oracle.json")
    ap.add_argument("--chunk", type=int, default=256, help="queries scored at a time")
    ap.add_argument("--draws", type=int, default=256, help="Monte-Carlo replicas per request (expected-clicks "
                    "oracle; 0 = skip it)")
    ap.add_argument("--mc-seed", type=int, default=0, help="seed of the Monte-Carlo replicas")
    ap.add_argument("--ks", type=int, nargs="+", default=KS, help="metric cut-offs (e.g. 20 to stand beside a "
                    "matching table at @20)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    try:
        st = prepare(args.data, args.model, args.sets, args.ks)
    except TruthError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    check = check_truth(st.truth)
    worst = max(v["max_abs_p_click"] for v in check.values())
    print(f"exactness: max |p_click - truth.parquet| over {sum(int(v['n']) for v in check.values()):,} shown "
          f"impressions = {worst:.2e}")
    whole = measure(st, False, args.chunk, args.draws, args.mc_seed, check_seed=True)
    cat = measure(st, True, args.chunk, args.draws, args.mc_seed, check_seed=True)
    for label, res in (("whole corpus", whole), ("within the level-2 category (search)", cat)):
        print(f"\n{label}: {res['queries']:,} queries; click oracle {res['oracle_seconds']} s, expected-clicks "
              f"oracle {res['oracle_exposure_seconds']} s ({res['draws']} draws); cells: click oracle / "
              "expected-clicks oracle / popularity")
        for m in METRICS:
            print(f"{'scenario':16s} {'n':>6s} " + " ".join(f"{f'{m}@{k}':>20s}" for k in args.ks))
            for name, b in _rows(res):
                cells = ["/".join(f"{x[m + '@' + str(k)]:.3f}" for x in b) for k in args.ks]
                print(f"{name:16s} {b[0]['n']:6d} " + " ".join(f"{c:>20s}" for c in cells))
    o, e, p = (whole[k]["overall"] for k in ("oracle", "oracle_exposure", "popularity"))
    ce = cat["oracle_exposure"]["overall"]
    figure = (f"test HR@100 (search + feeds, whole corpus): click oracle {o['hr@100']:.3f}, expected-clicks oracle "
              f"{e['hr@100']:.3f}, popularity {p['hr@100']:.3f}; in-category search: {cat['oracle']['overall']['hr@100']:.3f}"
              f" / {ce['hr@100']:.3f} / {cat['popularity']['overall']['hr@100']:.3f}")
    notes = [
        "search and feed scenarios only (a share panel's click is on a user)",
        "click oracle = rank by the simulator's true position-free P(click | shown) of (request context, item), the "
        "mean over the query's clicked events (the ranking asked for); it ignores exposure (a target must also have "
        "been retrieved and shown by the simulated platform), so on feeds popularity can beat it (MRR)",
        f"expected-clicks oracle = rank by E[click | request context] = sum_k P(shown at k) P(click at k), Monte Carlo "
        f"over the simulator's own retrieval and ranker ({whole['draws']} replicas per request; ties by the click "
        "oracle): it maximises the expected number of the query's clicked events in the top K given the context (HR, "
        "NDCG and MRR nearly so), the ceiling proper",
        "Monte-Carlo noise of the expected-clicks oracle, two seeds: largest |difference| overall "
        f"{whole['mc_seed_spread']['overall']:.4f} (whole corpus) / {cat['mc_seed_spread']['overall']:.4f} (in "
        f"category); in a scenario of >= 100 queries {whole['mc_seed_spread']['scenarios']:.3f} "
        f"({whole['mc_seed_spread']['where']}) / {cat['mc_seed_spread']['scenarios']:.3f}",
        "both know the session's latent intent item (no table holds it), which no model sees: ceilings, not targets "
        "(a model may still top one by chance on a scenario of few queries)",
        f"protocol of {args.model}'s matching run: one query per (user, scenario) of the test split, "
        f"exclude={st.mcfg.exclude} (train + valid clicks), targets that repeat them dropped",
        "exactness check: re-scored shown impressions vs truth.parquet, max |dp_click| per scenario "
        + ", ".join(f"{k} {v['max_abs_p_click']:.1e}" for k, v in check.items()),
        f"run time {time.perf_counter() - t0:.0f} s (1 thread)",
    ]
    write_result(args.results, benchmark=args.results.stem, title="Retrieval oracle: the ceiling of the retrieval "
                 "figures on simulated data", figure=figure, goal="the ceiling beside every matching model's "
                 "HR/Recall/NDCG/MRR (issue 36)", script="benchmarks/retrieval_oracle.py",
                 argv=[a if not isinstance(a, Path) else str(a) for a in (argv if argv is not None else sys.argv[1:])],
                 threads=1, tables=tables(whole, "whole corpus") + tables(cat, "within the level-2 category"),
                 notes=notes, data=str(args.data), exactness=check,
                 results={"whole_corpus": whole, "in_category": cat})
    print(f"\nwrote {args.results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
