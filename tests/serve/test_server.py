"""A real ``unisr serve`` on 127.0.0.1 answers every CONTRACT.md endpoint: ranking (scores equal to
``unisr evaluate``'s for the same events), a graph run, retrieval with exclusions, the two-stage recommend,
the out-of-vocabulary path, 422 / 413 / 404, request ids in the log and Prometheus metrics."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from unisr.pipeline.run_folder import score_split

KEYS = ["user_id", "scenario_id", "query_id", "trigger_item_id", "target_user_id", "ts"]


def scenario_names(sim_dir) -> dict[int, str]:  # noqa: ANN001
    import yaml

    spec = yaml.safe_load((sim_dir / "dataset.yaml").read_text())
    return {s["id"]: s["name"] for s in spec["scenarios"]}


def test_healthz(server, graph_server) -> None:
    h = server.client.get("/healthz").json()
    assert h["status"] == "ok" and h["version"] and h["runs"] == {"ranking": "dnn", "matching": "dssm"}
    assert graph_server.client.get("/healthz").json()["model"] == "srjgraph"


def test_rank_scores_equal_evaluate(server, serve_runs, sim_dir) -> None:
    """Requests rebuilt from logged test events (one per shown list) get evaluate's probabilities."""
    ref = score_split(serve_runs["dnn"], sim_dir, "test")
    ev = pl.read_parquet(sim_dir / "events.parquet").join(
        pl.DataFrame({"event_id": ref["event_id"], "prob": ref["prob"]}), on="event_id")
    lists = (ev.group_by("request_id", maintain_order=True)
             .agg(pl.col("item_id"), pl.col("prob"), *[pl.col(k).n_unique().alias(f"n_{k}") for k in KEYS],
                  *[pl.col(k).first() for k in KEYS])
             .filter(pl.all_horizontal([pl.col(f"n_{k}") == 1 for k in KEYS]) & (pl.col("item_id").list.len() > 1))
             .head(25))
    assert len(lists) >= 10
    names = scenario_names(sim_dir)
    worst = 0.0
    for r in lists.iter_rows(named=True):
        body = {"scenario": names[r["scenario_id"]], "user_id": r["user_id"], "item_ids": r["item_id"],
                "ts": r["ts"], "trigger_item_id": r["trigger_item_id"], "target_user_id": r["target_user_id"],
                "query": {"query_id": r["query_id"]} if r["query_id"] is not None else None}
        resp = server.post("/v1/rank", body)
        assert resp.status_code == 200, resp.text
        got = np.asarray(resp.json()["scores"])
        worst = max(worst, float(np.abs(got - np.asarray(r["prob"])).max()))
    assert worst <= 1e-5, worst


def test_rank_out_of_vocabulary_is_scored(server) -> None:
    body = {"scenario": "search_text", "user_id": 10 ** 15, "query": {"tokens": [1, 2, 10 ** 9, -5]},
            "item_ids": [10 ** 15, -1, 1, 2]}
    r = server.post("/v1/rank", body)
    assert r.status_code == 200, r.text
    s = r.json()["scores"]
    assert len(s) == 4 and all(0.0 < x < 1.0 for x in s)
    assert server.post("/v1/rank", {"scenario": "feed_main", "item_ids": []}).json() == {"scores": []}


def test_graph_model_ranks_from_its_snapshot(graph_server) -> None:
    body = {"scenario": "search_text", "user_id": 3, "query": {"tokens": [1, 2, 3]}, "item_ids": list(range(1, 41))}
    a = graph_server.post("/v1/rank", body).json()["scores"]
    b = graph_server.post("/v1/rank", body).json()["scores"]
    assert len(a) == 40 and a == b  # re-seeded per request: the same request gets the same neighbourhoods
    assert len(set(a)) > 1
    r = graph_server.post("/v1/retrieve", {"scenario": "feed_main", "user_id": 3, "k": 5})
    assert r.status_code == 404 and "matching run" in r.json()["detail"]


def test_retrieve_top_k_with_exclusion(server) -> None:
    body = {"scenario": "feed_main", "user_id": 3, "k": 20}
    items = server.post("/v1/retrieve", body).json()["items"]
    assert len(items) == 20
    scores = [x["score"] for x in items]
    assert scores == sorted(scores, reverse=True)
    drop = [x["item_id"] for x in items[:5]]
    again = server.post("/v1/retrieve", {**body, "exclude_item_ids": drop}).json()["items"]
    assert len(again) == 20 and not {x["item_id"] for x in again} & set(drop)
    assert [x["item_id"] for x in again][:15] == [x["item_id"] for x in items[5:]]
    q = server.post("/v1/retrieve", {"scenario": "search_text", "user_id": None, "query": {"tokens": [4, 5]},
                                     "k": 3})
    assert q.status_code == 200 and len(q.json()["items"]) == 3


def test_recommend_retrieves_then_ranks(server) -> None:
    body = {"scenario": "feed_main", "user_id": 3, "k": 10, "candidates": 50}
    rec = server.post("/v1/recommend", body).json()["items"]
    assert len(rec) == 10
    assert [x["score"] for x in rec] == sorted((x["score"] for x in rec), reverse=True)
    cand = {x["item_id"]: x["score"] for x in server.post("/v1/retrieve", {"scenario": "feed_main", "user_id": 3, "k": 50}).json()["items"]}
    assert all(x["item_id"] in cand and x["retrieval_score"] == pytest.approx(cand[x["item_id"]]) for x in rec)
    ranked = server.post("/v1/rank", {"scenario": "feed_main", "user_id": 3, "item_ids": list(cand)}).json()
    assert max(ranked["scores"]) == pytest.approx(rec[0]["score"])


def test_errors_name_the_field(server) -> None:
    r = server.post("/v1/rank", {"scenario": "feed_main", "item_ids": [1, "x"]})
    assert r.status_code == 422 and r.json()["detail"].startswith("body.item_ids.1")
    r = server.post("/v1/rank", {"scenario": "feed_main"})
    assert r.status_code == 422 and "body.item_ids" in r.json()["detail"]
    r = server.post("/v1/retrieve", {"scenario": "feed_main", "k": 0})
    assert r.status_code == 422 and "body.k" in r.json()["detail"]
    r = server.client.post("/v1/rank", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422
    r = server.post("/v1/rank", {"scenario": "feed_main", "item_ids": [1, 2], "target_user_ids": [1, 2, 3]})
    assert r.status_code == 422 and "target_user_ids" in r.json()["detail"]
    r = server.post("/v1/rank", {"scenario": "no_such_scenario", "item_ids": [1]})
    assert r.status_code == 404 and "no_such_scenario" in r.json()["detail"]
    big = b'{"scenario": "feed_main", "item_ids": [' + b"1," * (600 * 1024) + b'1]}'
    assert server.client.post("/v1/rank", content=big, headers={"content-type": "application/json"}).status_code == 413


def test_request_ids_and_metrics(server) -> None:
    r = server.post("/v1/rank", {"scenario": "feed_main", "item_ids": [1]}, headers={"X-Request-ID": "probe-37"})
    assert r.headers["x-request-id"] == "probe-37"
    assert len(server.client.get("/healthz").headers["x-request-id"]) >= 16
    text = server.client.get("/metrics").text
    assert 'unisr_requests_total{endpoint="/v1/rank",scenario="feed_main",status="200"}' in text
    assert 'unisr_request_seconds_bucket{endpoint="/v1/rank",le="0.025",scenario="feed_main"}' in text
    log = server.log.read_text()
    assert "request_id=probe-37 POST /v1/rank 200" in log
    assert server.client.get("/openapi.json").json()["paths"].keys() >= {"/v1/rank", "/v1/retrieve", "/v1/recommend"}


def test_a_scenario_without_an_index_is_404_not_a_startup_failure(serve_runs, tmp_path) -> None:
    """A per-scenario matching model (SASS) indexes the scenarios it trained on only: the run still serves
    them, and a request for another scenario names the indexed ones."""
    import json
    import shutil

    from unisr.serve.runtime import MatchRuntime, NotIndexed

    run = tmp_path / "dssm"
    shutil.copytree(serve_runs["dssm"], run)
    manifest = run / "item_index" / "manifest.json"
    m = json.loads(manifest.read_text())
    m["scenarios"] = [s for s in m["scenarios"] if s["name"] != "feed_new"]
    manifest.write_text(json.dumps(m))
    rt = MatchRuntime(run)
    assert rt.scenarios[rt.scenario_index("feed_main")] == "feed_main"
    with pytest.raises(NotIndexed) as e:
        rt.scenario_index("feed_new")
    assert "feed_main" in e.value.args[1] and "feed_new" not in e.value.args[1]
