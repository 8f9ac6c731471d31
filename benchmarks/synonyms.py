"""Is the text queries' synonym map learnable from co-clicks? (issue 32: "28.6% of text queries use a synonym no
title contains (fine, if the synonym map is learnable from co-clicks: say so and measure it)").

The simulator's map (``simulate/queries.py:build_text_pool``): a text query's first token is its wording, the
leaf word of its leaf ``L`` (``vocab.cat + n1 + n2 + L``, in every title of that leaf), a synonym
(``vocab.synonym + L``, in no title) or the broader level-2 word (``vocab.cat + n1 + l2``, in the titles); the
attribute words follow. The map synonym(L) -> leaf word(L) is derived from the simulator's own ``Vocab`` of the
dataset's recorded config and seed (``simulate/items.py:build_catalog``) and checked against the written files
(every item's title holds the leaf word of its ``category_path`` leaf and no synonym; every text query's first
token is a wording of its pool leaf ``query_id // q``).

Measured on trained DNN + match runs (the shared ``terms`` table of ``nn/content.py:SequenceTables``, read by the
query-title kernels of ``nn/match.py``):

1. **The term table.** For each synonym, the rank of its own leaf word among all leaf words by cosine of their
   rows (encoded id = the raw token mapped by the encoder's ``data/vocab.py:pad_lists``): top-1, top-5, MRR,
   and the mean cosine to its own / to other leaf words; baseline: the same model class freshly initialised
   (the run's seed) and the random expectation (top-k = k / n_leaf, MRR = H(n_leaf) / n_leaf).
2. **Test AUC on search_text by wording** (leaf word / synonym / level-2 word) of the run's scores and of the
   oracle (``truth.parquet`` ``p_click_no_position``), with each wording's share of the test impressions,
   requests and distinct queries; and two counterfactual inputs to the same model: every synonym replaced by
   its leaf word ("synonym -> leaf word") and every query's wording token replaced by the same kind of word of
   another leaf (a fixed derangement: "wording of another leaf"). If the as-typed synonym AUC equals the
   "synonym -> leaf word" AUC, the model ranks a synonym query as it ranks the leaf word; if it also equals the
   "wording of another leaf" AUC, the word carries nothing the model uses (the query's written ``category``,
   its pool leaf for every text query, already tells the model the leaf).
3. **Co-clicks.** Whether the logs hold the map at all: for each synonym, the leaves of the items clicked after
   queries with it (training window; background + training); its own leaf's rank by count (top-1, top-5, MRR).

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/synonyms.py --data /tmp/sim_small \\
        --run /tmp/lead/exp31/dnn-pos3raw-idd5-off match_positions=3 match_raw_cosine=true \\
        --run /tmp/lead/exp31/dnn-pos3raw-idd5-off-s1 --run /tmp/lead/exp31/dnn-pos3raw-idd5-off-s2

``--run PATH [key=value ...]``: the keys replace model keys of the run's ``config.yaml`` (the seed-0 run above was
trained with ``match_positions=3 match_raw_cosine=true`` but its config predates those keys); the script
checks that the reloaded model reproduces the run's own ``metrics.json`` search_text test AUC.

Shapes:
    term table [V, d] -> synonym rows [n_leaf, d] x leaf-word rows [n_leaf, d] -> cosine [n_leaf, n_leaf];
    test search_text events [N] -> (wording [N], score [N], oracle [N]) -> AUC per wording
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
WORDINGS = ("leaf word", "synonym", "level-2 word")  # wording 0 / 1 / 2 of simulate/queries.py
SCENARIO = "search_text"
VARIANTS = ("as typed", "synonym -> leaf word", "wording of another leaf")


def bad(message: str) -> SystemExit:
    """Bad input (a file, run or option that does not fit): the message on stderr, exit code 2."""
    print(f"error: {message}", file=sys.stderr)
    return SystemExit(2)


# ------------------------------------------------------------------------------------ the simulator's map
def word_ranges(vocab, n1: int, n2: int) -> dict[int, tuple[int, int]]:
    """Raw token range [lo, hi) of each wording's first token (``simulate/queries.py``'s ``wtok``): 0 leaf words,
    1 synonyms, 2 level-2 words."""
    n_leaf = vocab.n_leaf
    return {0: (vocab.cat + n1 + n2, vocab.cat + n1 + n2 + n_leaf), 1: (vocab.synonym, vocab.synonym + n_leaf),
            2: (vocab.cat + n1, vocab.cat + n1 + n2)}


def wording_of(first: np.ndarray, vocab, n1: int, n2: int) -> np.ndarray:
    """[N] raw first query token (-1 / 0 = none) -> [N] wording: 0 leaf word, 1 synonym, 2 level-2 word, -1 other
    (a visual or trigger query, an attribute word)."""
    first = np.asarray(first, np.int64)
    out = np.full(first.shape, -1, np.int64)
    for w, (lo, hi) in word_ranges(vocab, n1, n2).items():
        out[(first >= lo) & (first < hi)] = w
    return out


def synonym_map(vocab, n1: int, n2: int) -> tuple[np.ndarray, np.ndarray]:
    """([n_leaf] synonym raw token, [n_leaf] leaf-word raw token) of leaf 0..n_leaf-1."""
    r = word_ranges(vocab, n1, n2)
    return np.arange(*r[1]), np.arange(*r[0])


def load_world_vocab(data: Path):
    """The catalogue the dataset was simulated with (its recorded config and seed), and checks that the written
    files agree with its token layout. Returns (vocab, n1, n2, queries_per_leaf)."""
    import polars as pl
    import yaml

    from unisr.simulate.config import written_config
    from unisr.simulate.items import build_catalog

    meta = yaml.safe_load((data / "dataset.yaml").read_text())["simulator"]
    cfg = written_config(meta)  # a block without `version` is v1
    cat = build_catalog(cfg, int(meta["seed"]))
    vocab, n1, n2 = cat.vocab, cat.n1, cat.n2
    syn, leafw = synonym_map(vocab, n1, n2)
    items = pl.read_parquet(data / "items.parquet", columns=["category_path", "title_tokens"])
    leaf_cat = items["category_path"].list.get(2).to_numpy().astype(np.int64)  # category id of the leaf
    titles = items["title_tokens"]
    has_leaf_word = (titles.list.contains(pl.Series(leaf_cat + 1).cast(titles.dtype.inner))).all()
    flat = titles.explode().to_numpy()
    if not has_leaf_word or np.isin(flat, syn).any() or not np.array_equal(leafw, np.arange(n1 + n2, n1 + n2 +
                                                                                         vocab.n_leaf) + 1):
        raise bad(f"{data}: items.parquet titles do not follow the simulator's token layout (seed "
                         f"{meta['seed']}): leaf word = leaf category id + 1 in every title, no synonym in any")
    q = cfg.catalog.queries_per_leaf
    text = pl.read_parquet(data / "queries.parquet", columns=["query_id", "kind", "tokens"]).filter(
        pl.col("kind") == "text")
    first = text["tokens"].list.first().to_numpy()
    leaf = text["query_id"].to_numpy() // q
    w = wording_of(first, vocab, n1, n2)
    l2 = leaf // (vocab.n_leaf // n2)
    ok = np.select([w == 0, w == 1, w == 2], [first == leafw[leaf], first == syn[leaf],
                                              first == vocab.cat + n1 + l2], False)
    if not ok.all():
        raise bad(f"{data}: queries.parquet: {int((~ok).sum())} text queries whose first token is no wording "
                         f"of their pool leaf (query_id // {q})")
    return vocab, n1, n2, q


# ------------------------------------------------------------------------------------ 1. the term table
def rank_stats(syn_rows: np.ndarray, leaf_rows: np.ndarray) -> dict:
    """Rank of each synonym's own leaf word (same row index) among all leaf words by cosine.

    Shapes:
        syn_rows [n, d], leaf_rows [n, d] -> stats"""
    a = syn_rows / np.maximum(np.linalg.norm(syn_rows, axis=1, keepdims=True), 1e-12)
    b = leaf_rows / np.maximum(np.linalg.norm(leaf_rows, axis=1, keepdims=True), 1e-12)
    cos = a @ b.T  # [n, n]
    own = np.diag(cos)
    rank = 1 + (cos > own[:, None]).sum(1)  # 1 = own leaf word nearest
    n = len(own)
    other = (cos.sum(1) - own) / (n - 1)
    return {"n": int(n), "top1": float((rank == 1).mean()), "top5": float((rank <= 5).mean()),
            "mrr": float((1.0 / rank).mean()), "median_rank": float(np.median(rank)),
            "cos_own": float(own.mean()), "cos_other": float(other.mean()),
            "norm_synonym": float(np.linalg.norm(syn_rows, axis=1).mean()),
            "norm_leaf_word": float(np.linalg.norm(leaf_rows, axis=1).mean())}


def random_expectation(n: int) -> dict:
    return {"n": n, "top1": 1 / n, "top5": 5 / n, "mrr": sum(1 / k for k in range(1, n + 1)) / n,
            "median_rank": (n + 1) / 2, "cos_own": 0.0, "cos_other": 0.0}


def encoded(raw: np.ndarray) -> np.ndarray:
    """Raw tokens -> the rows of the shared table the encoder looks them up at (``pad_lists``'s shift)."""
    import pyarrow as pa

    from unisr.data.vocab import pad_lists

    ids, _ = pad_lists(pa.array([[int(t)] for t in raw], pa.list_(pa.int64())), 1)
    return ids[:, 0]


def term_rows(net, syn: np.ndarray, leafw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from unisr.nn.content import SequenceTables

    tables = [m for m in net.modules() if isinstance(m, SequenceTables)]
    if not tables or "query_tokens" not in tables[0].key:
        raise bad("the model has no shared term table holding query_tokens (SequenceTables)")
    w = tables[0].table("query_tokens").weight.detach().numpy()
    if tables[0].key["query_tokens"] != tables[0].key.get("item.title_tokens"):
        raise bad("query_tokens and item.title_tokens do not share a table (data.inputs.vocabularies)")
    return w[encoded(syn)], w[encoded(leafw)]


# ------------------------------------------------------------------------------------ 1b. co-clicks
def coclick_counts(word_tok: np.ndarray, clicked_leaf: np.ndarray, words: np.ndarray, n_leaf: int) -> np.ndarray:
    """[len(words), n_leaf] clicks per (query word, leaf of the clicked item): the co-clicks a learner sees.

    Shapes:
        word_tok [C], clicked_leaf [C] (one row per click) -> [len(words), n_leaf]"""
    row = np.searchsorted(words, word_tok)
    ok = (row < len(words)) & (words[np.minimum(row, len(words) - 1)] == word_tok)
    out = np.zeros((len(words), n_leaf), np.int64)
    np.add.at(out, (row[ok], clicked_leaf[ok]), 1)
    return out


def count_rank_stats(counts: np.ndarray) -> dict:
    """Rank of each word's own leaf (same row index) among the leaves by co-click count (ties share the worst
    rank, so a word without clicks ranks last): top-1, top-5, MRR, and the clicks per word."""
    own = np.diag(counts)
    rank = 1 + (counts > own[:, None]).sum(1) + (counts == own[:, None]).sum(1) - 1
    per = counts.sum(1)
    return {"n": int(len(own)), "top1": float((rank == 1).mean()), "top5": float((rank <= 5).mean()),
            "mrr": float((1.0 / rank).mean()), "clicks_per_word_median": float(np.median(per)),
            "own_leaf_share_of_clicks": float(own.sum() / max(per.sum(), 1)),
            "words_without_clicks": int((per == 0).sum())}


def coclicks(data: Path, vocab, n1: int, n2: int) -> dict:
    """For each wording, the own-leaf rank among leaves by the co-clicks of its word (search_text clicks of the
    training window, and of background + training), the learner that needs nothing but the logs."""
    import polars as pl

    from unisr.data.gate import load_spec
    from unisr.data.split import SplitAssigner

    bounds = {n: (a, b) for n, a, b in SplitAssigner.for_dataset(data, load_spec(data).split).boundaries()}
    sid = next(sc.id for sc in load_spec(data).scenarios if sc.name == SCENARIO)
    ev = (pl.scan_parquet(data / "events.parquet").filter((pl.col("scenario_id") == sid) & (pl.col("click") == 1))
          .select("ts", "item_id", "query_id").collect())
    items = pl.read_parquet(data / "items.parquet", columns=["item_id", "category_path"]).with_columns(
        leaf=pl.col("category_path").list.get(2) - (n1 + n2)).drop("category_path")
    q = pl.read_parquet(data / "queries.parquet", columns=["query_id", "tokens"]).with_columns(
        first=pl.col("tokens").list.first()).drop("tokens")
    df = ev.join(items, on="item_id", how="left").join(q, on="query_id", how="left").drop_nulls(["leaf", "first"])
    syn, leafw = synonym_map(vocab, n1, n2)
    windows = {"train": bounds["train"], "background + train": (bounds["background"][0], bounds["train"][1])}
    out = {}
    for wname, (a, b) in windows.items():
        d = df.filter((pl.col("ts") >= a) & (pl.col("ts") < b))
        tok, lf = d["first"].to_numpy().astype(np.int64), d["leaf"].to_numpy().astype(np.int64)
        out[wname] = {"synonym": count_rank_stats(coclick_counts(tok, lf, syn, vocab.n_leaf)),
                      "leaf word": count_rank_stats(coclick_counts(tok, lf, leafw, vocab.n_leaf))}
    return out


# ------------------------------------------------------------------------------------ 2. AUC by wording
def open_run(run: Path, data: Path, model_sets: dict):
    """``pipeline.run_folder.load_run`` with ``model_sets`` replacing model keys of the run's config, restricted
    to search_text. Returns (cfg, net, pipe, fresh net)."""
    import torch
    from safetensors.torch import load_model

    from unisr.data.features import FeatureEncoder
    from unisr.models.registry import build_model
    from unisr.pipeline.pipeline import Pipeline
    from unisr.pipeline.run_folder import read_config

    cfg = read_config(run)
    cfg = cfg.model_copy(update={"model": {**cfg.model, **model_sets},
                                 "data": cfg.data.model_copy(update={"scenarios": [SCENARIO]})})
    encoder = FeatureEncoder.load(run / "encoders")
    torch.manual_seed(cfg.train.seed)
    fresh = build_model(cfg.model_name, cfg.model_params, encoder.schema)
    net = build_model(cfg.model_name, cfg.model_params, encoder.schema)
    try:
        load_model(net, str(run / "model.safetensors"))
    except RuntimeError as e:
        raise bad(f"{run / 'model.safetensors'}: does not fit {run / 'config.yaml'} with the model keys "
                  f"{model_sets or '{}'} ({str(e).splitlines()[-1].strip()[:200]}): give the keys it was trained "
                  "with after --run PATH, e.g. match_positions=3 match_raw_cosine=true") from None
    net.eval()
    return cfg, net, Pipeline.open(cfg, data, encoder), fresh


def derangement(n: int, seed: int) -> np.ndarray:
    """[n] a fixed permutation of 0..n-1 without fixed points (a random cycle): word k -> word out[k] != k."""
    order = np.random.default_rng(seed).permutation(n)
    out = np.empty(n, np.int64)
    out[order] = np.roll(order, -1)
    return out


def variant_tokens(data: Path, pipe, vocab, n1: int, n2: int, variant: str) -> tuple[np.ndarray, np.ndarray]:
    """The query table's (tokens [n + 1, L], mask) with the text queries' wording changed per ``variant``."""
    import polars as pl
    import pyarrow as pa

    from unisr.data.vocab import pad_lists

    qt = pipe.ctx.queries
    t = pl.read_parquet(data / "queries.parquet", columns=["query_id", "tokens"]).sort("query_id", maintain_order=True)
    toks = t["tokens"].to_list()
    syn, leafw = synonym_map(vocab, n1, n2)
    other = {w: derangement(hi - lo, seed=w) for w, (lo, hi) in word_ranges(vocab, n1, n2).items()}
    out = []
    for tk in toks:  # ~30k short lists, once per variant
        if tk and variant != "as typed":
            w = int(wording_of(np.array([tk[0]]), vocab, n1, n2)[0])
            if variant == "synonym -> leaf word" and w == 1:
                tk = [int(leafw[tk[0] - syn[0]])] + tk[1:]
            elif variant == "wording of another leaf" and w >= 0:
                lo = word_ranges(vocab, n1, n2)[w][0]
                tk = [int(lo + other[w][tk[0] - lo])] + tk[1:]
        out.append(tk)
    ids, mask = pad_lists(pa.array(out, pa.list_(pa.int64())), qt.tokens.shape[1])
    if not np.array_equal(qt.vocab.lookup(t["query_id"].to_numpy()), np.arange(1, len(toks) + 1)):
        raise bad("query table rows are not queries.parquet sorted by query_id")
    return (np.vstack([np.zeros((1, ids.shape[1]), np.int64), ids]),
            np.vstack([np.zeros((1, ids.shape[1]), bool), mask]))


def score(net, pipe) -> tuple[np.ndarray, np.ndarray]:
    import torch

    eids, probs = [], []
    with torch.no_grad():
        for b in pipe.batches("test"):
            eids.append(b.event_id.numpy())
            probs.append(torch.sigmoid(net(b)["click"]).numpy())
    pipe._loaders.clear()  # the next variant re-encodes the query tokens
    return np.concatenate(eids), np.concatenate(probs)


def auc_se(auc: float, n_pos: int, n_neg: int) -> float:
    """Hanley & McNeil (1982) standard error of an AUC."""
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    v = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc * auc) + (n_neg - 1) * (q2 - auc * auc)) / max(n_pos * n_neg, 1)
    return math.sqrt(max(v, 0.0))


def by_wording(data: Path, eids: np.ndarray, scores: dict[str, np.ndarray], vocab, n1: int, n2: int) -> dict:
    import polars as pl

    from unisr.evaluate.metrics import auc

    ev = pl.read_parquet(data / "events.parquet", columns=["event_id", "click", "query_id", "request_id"])
    tr = pl.read_parquet(data / "truth.parquet", columns=["event_id", "p_click_no_position"])
    q = pl.read_parquet(data / "queries.parquet", columns=["query_id", "tokens"]).with_columns(
        first=pl.col("tokens").list.first().fill_null(-1)).drop("tokens")
    df = (pl.DataFrame({"event_id": eids, "row": np.arange(len(eids))}).join(ev, on="event_id", how="left")
          .join(tr, on="event_id", how="left").join(q, on="query_id", how="left").sort("row"))
    if df["click"].null_count() or df["p_click_no_position"].null_count():
        raise bad(f"{data}: scored test events missing from events.parquet / truth.parquet")
    w = wording_of(df["first"].fill_null(-1).to_numpy(), vocab, n1, n2)
    y = df["click"].to_numpy().astype(np.int64)
    oracle = df["p_click_no_position"].to_numpy()
    req, qid = df["request_id"].to_numpy(), df["query_id"].to_numpy()
    out = {}
    for k, name in enumerate(WORDINGS):
        m = w == k
        pos = int(y[m].sum())
        row = {"impressions": int(m.sum()), "share_impressions": float(m.mean()),
               "share_requests": float(len(np.unique(req[m])) / len(np.unique(req))),
               "share_queries": float(len(np.unique(qid[m])) / len(np.unique(qid))), "positives": pos,
               "oracle_auc": auc(y[m], oracle[m])}
        for v, s in scores.items():
            a = auc(y[m], s[m])
            row[v] = {"auc": a, "auc_se": auc_se(a, pos, int(m.sum()) - pos)}
        out[name] = row
    out["other"] = int((w < 0).sum())
    out["all_auc"] = {v: auc(y, s) for v, s in scores.items()}
    return out


# ------------------------------------------------------------------------------------ main
def parse_runs(groups: list[list[str]]) -> list[tuple[Path, dict]]:
    import yaml

    runs = []
    for g in groups:
        sets = {}
        for kv in g[1:]:
            if "=" not in kv:
                raise bad(f"--run {g[0]}: {kv!r} is not key=value")
            k, v = kv.split("=", 1)
            sets[k] = yaml.safe_load(v)
        runs.append((Path(g[0]), sets))
    return runs


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("/tmp/sim_small"))
    ap.add_argument("--run", dest="runs", nargs="+", action="append", required=True, metavar="PATH [key=value]")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "synonyms.json")
    ap.add_argument("--note", action="append", default=[], help="a line for the output's notes (how the runs were made)")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    sys.path.insert(0, str(ROOT))
    from machine import write_result
    from unisr.bench.fingerprint import data_fingerprint

    vocab, n1, n2, _ = load_world_vocab(args.data)
    syn, leafw = synonym_map(vocab, n1, n2)
    cc = coclicks(args.data, vocab, n1, n2)
    runs_out: dict[str, dict] = {}
    for run, sets in parse_runs(args.runs):
        cfg, net, pipe, fresh = open_run(run, args.data, sets)
        table = {"trained": rank_stats(*term_rows(net, syn, leafw)),
                 "fresh": rank_stats(*term_rows(fresh, syn, leafw)), "random": random_expectation(vocab.n_leaf)}
        qt = pipe.ctx.queries
        orig = (qt.tokens, qt.mask)
        scores, eids = {}, None
        for v in VARIANTS:
            qt.tokens, qt.mask = variant_tokens(args.data, pipe, vocab, n1, n2, v)
            e, p = score(net, pipe)
            if eids is not None and not np.array_equal(e, eids):
                raise bad("the variants scored different events")
            eids, scores[v] = e, p
            print(run.name, v, flush=True)
        qt.tokens, qt.mask = orig
        recorded = json.loads((run / "metrics.json").read_text())["scenarios"][SCENARIO]["auc"]
        wb = by_wording(args.data, eids, scores, vocab, n1, n2)
        if abs(wb["all_auc"]["as typed"] - recorded) > 1e-4:
            raise bad(f"{run}: the reloaded model's {SCENARIO} test AUC {wb['all_auc']['as typed']:.5f} is not "
                             f"the run's metrics.json {recorded:.5f}: check the --run key=value overrides")
        runs_out[run.name] = {"path": str(run), "model_sets": sets, "seed": cfg.train.seed,
                              "query_category": bool(cfg.data.inputs.query_category),
                              "recorded_auc": recorded, "term_table": table, "by_wording": wb}
        print(json.dumps(runs_out[run.name]["term_table"]["trained"]), flush=True)

    groups: dict[str, list[dict]] = {}
    for r in runs_out.values():
        groups.setdefault("with query.category" if r["query_category"] else "without query.category", []).append(r)

    def ms(rs: list[dict], f, d: int = 4) -> str:
        v = [f(r) for r in rs]
        return f"{np.mean(v):.{d}f}" + (f" ({np.std(v, ddof=1):.{d}f})" if len(v) > 1 else "")

    def g(r: dict, *ks):
        x = r
        for k in ks:
            x = x[k]
        return x

    stats = ("top1", "top5", "mrr", "median_rank", "cos_own", "cos_other")
    t_rows = []
    for gname, rs in groups.items():
        for label, key in (("trained", "trained"), ("freshly initialised", "fresh")):
            t_rows.append([f"{gname}, {label} ({len(rs)} run(s))",
                           *(ms(rs, lambda r, s=s, key=key: g(r, "term_table", key, s), 3) for s in stats)])
    t_rows.append(["random expectation", *(f"{random_expectation(vocab.n_leaf)[s]:.3f}" for s in stats)])
    a_rows = []
    for gname, rs in groups.items():
        for name in WORDINGS:
            w = ("by_wording", name)
            a_rows.append([gname, name, ms(rs, lambda r, w=w: g(r, *w, "share_impressions"), 3),
                           ms(rs, lambda r, w=w: g(r, *w, "share_queries"), 3),
                           f"{np.mean([g(r, *w, 'positives') for r in rs]):.0f}",
                           ms(rs, lambda r, w=w: g(r, *w, "oracle_auc")),
                           *(ms(rs, lambda r, w=w, v=v: g(r, *w, v, "auc")) for v in VARIANTS),
                           f"{np.mean([g(r, *w, 'as typed', 'auc_se') for r in rs]):.4f}"])
    parts = []
    for gname, rs in groups.items():
        parts.append(f"{gname} ({len(rs)} run(s)): own leaf word top-1 {ms(rs, lambda r: g(r, 'term_table', 'trained', 'top1'), 3)}"
                     f" MRR {ms(rs, lambda r: g(r, 'term_table', 'trained', 'mrr'), 3)}, search_text AUC synonym "
                     f"{ms(rs, lambda r: g(r, 'by_wording', 'synonym', 'as typed', 'auc'))} vs leaf word "
                     f"{ms(rs, lambda r: g(r, 'by_wording', 'leaf word', 'as typed', 'auc'))}")
    rnd = random_expectation(vocab.n_leaf)
    c_rows = [[wname, word, f"{st['top1']:.3f}", f"{st['top5']:.3f}", f"{st['mrr']:.3f}",
               f"{st['clicks_per_word_median']:.0f}", f"{st['own_leaf_share_of_clicks']:.3f}",
               str(st["words_without_clicks"])] for wname, per in cc.items() for word, st in per.items()]
    figure = (f"co-click counts (train window) give a synonym's leaf: top-1 {cc['train']['synonym']['top1']:.3f}; "
              + "; ".join(parts) + f" (random top-1 {rnd['top1']:.3f}, MRR {rnd['mrr']:.3f})")
    run_list = ", ".join(f"{k} (seed {r['seed']})" for k, r in runs_out.items())
    fp = data_fingerprint(args.data)
    notes = [
        f"runs: {run_list}; mean (sd) over the runs of a group; "
        f"data {args.data} (fingerprint {fp}); the map synonym(L) = vocab.synonym + L -> "
        f"leaf word(L) = vocab.cat + n1 + n2 + L from simulate/items.py:build_catalog of the recorded config and "
        f"seed, checked against items.parquet and queries.parquet",
        "term table: rank of a synonym's own leaf word among the leaf words by cosine of their rows of the shared "
        "'terms' table (query and title terms); 'freshly initialised': the same model class built with the run's "
        "seed, untrained",
        "AUC: test search_text impressions grouped by the query's first token (its wording); oracle = truth.parquet "
        "p_click_no_position; 'synonym -> leaf word' / 'wording of another leaf': the same trained model scoring the same "
        "events with every synonym replaced by its leaf word / every text query's wording token replaced by the same "
        "kind of word (leaf word, synonym, level-2 word) of another leaf (a fixed derangement)",
        "co-clicks: for each synonym (leaf word), the leaves of the items clicked in search_text after a query "
        "whose first token it is, counted in the window named; its own leaf's rank by count (ties rank last): the "
        "counting learner that needs only the logs",
        "every text query's written category (queries.parquet 'category', the model's query.category input) is its "
        "pool leaf, whatever its wording: a model with that input is told the leaf a synonym stands for",
        *args.note,
    ]
    out = write_result(
        args.out, benchmark="synonyms",
        title="Text-query synonyms: learned from co-clicks? (issue 32)", figure=figure,
        goal="a synonym query ranked as well as a leaf-word query, its term row near its leaf word's",
        script="benchmarks/synonyms.py", argv=sys.argv[1:] if argv is None else argv, threads=1,
        tables=[{"title": "synonym -> own leaf word, by cosine in the term table (n = "
                          f"{vocab.n_leaf} leaves)",
                 "header": ["term table", "top-1", "top-5", "MRR", "median rank", "cos own", "cos other"],
                 "rows": t_rows},
                {"title": f"{SCENARIO} test AUC by the query's wording",
                 "header": ["model input", "wording", "share of impressions", "share of queries", "positives", "oracle AUC",
                            *(f"model AUC, {v}" for v in VARIANTS), "AUC s.e. (as typed)"],
                 "rows": a_rows},
                {"title": f"co-clicks: the own leaf's rank among the leaves by {SCENARIO} clicks after the word",
                 "header": ["window", "word", "top-1", "top-5", "MRR", "clicks per word (median)",
                            "clicks on the own leaf", "words without clicks"], "rows": c_rows}],
        notes=notes, data={"path": str(args.data), "fingerprint": fp}, coclicks=cc, runs=runs_out)
    print(out["figure"])
    return out


if __name__ == "__main__":
    main()
