"""Serving a BOMGraph run (issue 36): ``unisr export`` carries the model's own graph (``bomgraph-se0.85-cetext``)
its sha256s, a real ``unisr serve --bundle`` on 127.0.0.1 attaches it, and ``/v1/retrieve`` of every test query
of the three search scenarios returns exactly the list the evaluation path ranks (the same query vectors, the
same in-category FAISS search on the saved index): the evaluation's HR / MRR are recomputed from that reference
first, so the reference is what ``unisr evaluate`` measures. Also: 422 naming the field for what the model cannot
embed (an unknown or missing trigger, a missing query), and a bundle's graph is loaded, never rebuilt.

Shapes:
    (no tensors) one request per test query (group, scenario) -> top-200 item ids == the evaluation's ranking
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from .conftest import UNISR, Server

SETS = ["train.epochs=1", "model.dim=32", "model.negatives=4", "data.batch_size=4096", "train.progress=false",
        "train.threads=1"]
SEARCH = ("search_text", "search_visual", "search_similar")


@pytest.fixture(scope="module")
def bom_run(sim_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from unisr.train.run import train_run

    out = tmp_path_factory.mktemp("bom") / "run"
    train_run("bomgraph", sim_dir, out, sets=SETS)
    return out


@pytest.fixture(scope="module")
def bom_bundle(bom_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bom_bundle") / "b"
    r = subprocess.run([*UNISR, "export", "--run", str(bom_run), "--out", str(out)], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return out


@pytest.fixture(scope="module")
def bom_server(bom_bundle: Path, tmp_path_factory: pytest.TempPathFactory):
    s = Server(["--bundle", str(bom_bundle)], tmp_path_factory.mktemp("logs") / "bomgraph.log")
    yield s
    s.stop()


def evaluation_reference(run: Path) -> dict:
    """The evaluation path on ``run``'s test split: its metrics (``evaluate_matching_run``), and per query (as
    ``collect_queries`` groups them) the raw ids a request names, and the ranking of ``evaluate_retrieval``'s
    ANN search: the saved index, depth max(ks), within the query's category."""
    from unisr.evaluate.retrieval import Interactions, collect_queries, ranking_metrics
    from unisr.index.faiss_index import load_indexes, search
    from unisr.pipeline.run_folder import open_run
    from unisr.train.matching import evaluate_matching_run

    torch.set_num_threads(1)
    cfg, encoder, net, pipe = open_run(run)
    metrics = evaluate_matching_run(run, cfg, net, pipe, "test")  # attaches the model's graph
    schema = encoder.schema
    q = collect_queries(net.user_vectors, pipe.batches("test"), schema.num_scenarios, Interactions.empty(),
                        schema.num_items, cfg.train.matching.exclude, group=net.query_group,
                        category=net.query_category)
    indexes = load_indexes(run / "item_index")
    kmax = min(max(cfg.train.matching.ks), schema.num_items)
    cat = np.asarray(net.retrieval_category)
    assert net.retrieval_category is not None and net.cfg.in_category  # the run retrieves within the query's category
    ranked = np.full((len(q.user), kmax), -1, np.int64)
    scores = np.zeros((len(q.user), kmax), np.float32)
    for i in range(len(q.user)):
        allowed = np.flatnonzero(cat[1:] == q.category[i])
        s, r = search(indexes[schema.scenarios[q.scenario[i]]].index, q.vectors[i:i + 1], kmax, allowed=allowed)
        ranked[i, :r.shape[1]] = np.where(r[0] >= 0, r[0] + 1, -1)
        scores[i, :r.shape[1]] = s[0]
    per_q = ranking_metrics(ranked, q.t_off, q.t_items, cfg.train.matching.ks)
    queries = pipe.ctx.queries
    node_row = np.zeros(int(net.query_node.max()) + 1, np.int64)  # keyword node -> its QueryTable row
    node_row[np.asarray(net.query_node)] = np.arange(len(net.query_node))
    qraw = np.concatenate([[-1], queries.vocab.values])  # QueryTable row -> raw query id
    return {"metrics": metrics, "q": q, "ranked": ranked, "scores": scores, "per_q": per_q,
            "names": schema.scenarios, "kmax": kmax, "item_ids": np.asarray(encoder.item_ids, np.int64),
            "indexes": indexes, "node_row": node_row, "qraw": qraw, "tokens": queries.tokens, "mask": queries.mask, "emb": queries.emb}


@pytest.fixture(scope="module")
def reference(bom_run: Path) -> dict:
    return evaluation_reference(bom_run)


def request_of(ref: dict, i: int, k: int) -> dict:
    """The /v1/retrieve body of query i: the keyword's query id, the visual query's id + its embedding, the
    trigger item."""
    q, name = ref["q"], ref["names"][ref["q"].scenario[i]]
    g = int(q.user[i])
    body: dict = {"scenario": name, "k": k}
    if name == "search_text":
        body["query"] = {"query_id": int(ref["qraw"][ref["node_row"][g]])}
    elif name == "search_visual":
        body["query"] = {"query_id": int(ref["qraw"][g]), "emb": ref["emb"][g].tolist()}
    else:
        body["trigger_item_id"] = int(ref["item_ids"][g - 1])
    return body


def test_reference_is_what_evaluation_measures(reference: dict) -> None:
    """The per-query reference rankings give the evaluation's own ANN metrics (so serving is compared with what
    ``unisr evaluate`` ranks, not with a copy of the serving code)."""
    ann = reference["metrics"]["ann"]["scenarios"]
    q = reference["q"]
    for s, name in enumerate(reference["names"]):
        m = q.scenario == s
        if not m.any():
            continue
        assert name in SEARCH
        for key in ("hr@20", "hr@100", "mrr@20", "ndcg@50"):
            assert reference["per_q"][key][m].mean() == pytest.approx(ann[name][key], abs=1e-9), (name, key)
    assert set(np.unique(q.scenario)) == {reference["names"].index(n) for n in SEARCH}


def test_served_top_k_equals_evaluation(bom_server, bom_bundle: Path, reference: dict) -> None:
    """Every test query of the three search scenarios, served by ``unisr serve --bundle``: the top max(ks) items
    and their scores are the evaluation's ranking of that query."""
    from unisr.serve.bundle import verify_bundle

    q, kmax = reference["q"], reference["kmax"]
    worst, n = 0.0, {name: 0 for name in SEARCH}
    for i in range(len(q.user)):
        r = bom_server.post("/v1/retrieve", request_of(reference, i, kmax))
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        want = reference["ranked"][i][reference["ranked"][i] > 0]
        got = np.asarray([x["item_id"] for x in items], np.int64)
        score = np.asarray([x["score"] for x in items])
        ref_ids, ref_score = reference["item_ids"][want - 1], reference["scores"][i][:len(want)]
        assert len(got) == len(ref_ids), f"query {i}"
        # the same ranking; only items whose two scores tie within float noise (a vector computed in a batch of
        # one vs of many) may trade places
        moved = got != ref_ids
        if moved.any():
            assert set(got) == set(ref_ids), f"query {i}: other items {set(got) ^ set(ref_ids)}"
            assert np.abs(score[moved] - ref_score[moved]).max() <= 1e-5, f"query {i}: not a tie"
        worst = max(worst, float(np.abs(score - ref_score).max()))
        n[reference["names"][q.scenario[i]]] += 1
    assert worst <= 1e-5, worst
    assert all(v >= 5 for v in n.values()), n
    verify_bundle(bom_bundle)  # serving wrote nothing into the bundle (no graph rebuilt there)


def test_text_terms_and_visual_embedding_map_to_the_query(bom_server, reference: dict) -> None:
    """A keyword given by its terms retrieves as its query id does; a visual query's embedding alone (no query id)
    retrieves as the logged query does: the same vector, and its category predicted from the embedding
    (``model.visual_category = classifier``), not read from the query table."""
    q, names = reference["q"], reference["names"]
    text = [i for i in np.flatnonzero(q.scenario == names.index("search_text"))]
    rows = reference["node_row"][q.user[text]]
    terms = np.where(reference["mask"], reference["tokens"], 0)
    key = [terms[r].tobytes() for r in range(len(terms))]
    unique = [i for i, r in zip(text, rows, strict=True) if key.count(key[r]) == 1][:5]
    assert unique
    for i in unique:
        body = request_of(reference, i, 20)
        row = reference["node_row"][q.user[i]]
        tokens = (reference["tokens"][row][reference["mask"][row]] - 1).tolist()
        by_terms = bom_server.post("/v1/retrieve", {**body, "query": {"tokens": tokens}})
        assert by_terms.status_code == 200, by_terms.text
        assert by_terms.json() == bom_server.post("/v1/retrieve", body).json()
    for i in np.flatnonzero(q.scenario == names.index("search_visual"))[:3]:
        body = request_of(reference, int(i), 20)
        r = bom_server.post("/v1/retrieve", {**body, "query": {"emb": body["query"]["emb"]}})
        assert r.status_code == 200, r.text
        assert r.json() == bom_server.post("/v1/retrieve", body).json()


def test_what_the_model_cannot_embed_is_422_naming_the_field(bom_server, reference: dict) -> None:
    trig = int(reference["item_ids"][0])
    cases = [
        ({"scenario": "search_similar", "trigger_item_id": 10 ** 15, "k": 5}, "body.trigger_item_id"),
        ({"scenario": "search_similar", "k": 5}, "body.trigger_item_id"),
        ({"scenario": "search_text", "k": 5}, "body.query"),
        ({"scenario": "search_text", "query": {"tokens": [10 ** 9]}, "k": 5}, "body.query.tokens"),
        ({"scenario": "search_text", "query": {"query_id": -7}, "k": 5}, "body.query.query_id"),
        ({"scenario": "search_visual", "k": 5}, "body.query.emb"),
        ({"scenario": "search_visual", "query": {"emb": [0.1, 0.2]}, "k": 5}, "body.query.emb"),
        ({"scenario": "search_visual", "query": {"emb": ["x"]}, "k": 5}, "body.query.emb.0"),
    ]
    for body, field in cases:
        r = bom_server.post("/v1/retrieve", body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["detail"].startswith(field + ":"), (body, r.json())
    ok = bom_server.post("/v1/retrieve", {"scenario": "search_similar", "trigger_item_id": trig, "k": 5})
    assert ok.status_code == 200 and len(ok.json()["items"]) == 5
    assert bom_server.post("/v1/retrieve", {"scenario": "feed_main", "k": 5}).status_code == 404  # no index


def test_bundle_carries_the_model_graph_and_run_serving_attaches_it(bom_bundle: Path, bom_run: Path,
                                                                    bom_server, reference: dict,
                                                                    tmp_path: Path) -> None:
    """The manifest lists ``matching/graph/bomgraph-se0.85-cetext/`` with sha256s; ``serve --run`` (the runtime on the
    run folder) answers as the bundle does; an empty graph folder is refused naming the graph manifest."""
    import json

    from unisr.pipeline.run_folder import RunFolderError
    from unisr.serve.runtime import MatchRuntime, Request

    man = json.loads((bom_bundle / "manifest.json").read_text())
    graph_files = [f for f in man["files"] if f.startswith("matching/graph/bomgraph-se0.85-cetext/")]
    assert "matching/graph/bomgraph-se0.85-cetext/manifest.json" in graph_files and len(graph_files) > 3
    assert all(len(man["files"][f]["sha256"]) == 64 for f in graph_files)
    assert man["runs"][0]["graph"] == "matching/graph"
    from unisr.serve.runtime import Retrieval

    rt = MatchRuntime(bom_run)  # what `unisr serve --run` opens
    q = reference["q"]
    parts = []
    for s in range(3):
        for i in np.flatnonzero(q.scenario == s)[:4].tolist():
            body = request_of(reference, i, 10)
            query = body.get("query") or {}
            emb = query.get("emb")
            req = rt.nodes.resolve(Request(s, query_id=query.get("query_id"), trigger_item_id=body.get(
                "trigger_item_id"), emb=tuple(emb) if emb else None))
            ids, _ = rt.retrieve(req, 10)
            served = bom_server.post("/v1/retrieve", body).json()["items"]
            assert ids.tolist() == [x["item_id"] for x in served]
            parts.append(Retrieval(req, 10, np.zeros(0, np.int64)))
    # several scenarios and categories in one batch (the Batcher's call) = one by one
    together = rt.run_parts(parts)
    for p, (ids, scores) in zip(parts, together, strict=True):
        one_ids, one_scores = rt.run_parts([p])[0]
        assert ids.tolist() == one_ids.tolist()
        np.testing.assert_allclose(scores, one_scores, atol=1e-5)
    with pytest.raises(RunFolderError, match="bomgraph-se0.85-cetext/manifest.json"):
        MatchRuntime(bom_bundle / "matching", bom_bundle / "data", graph_dir=tmp_path)
