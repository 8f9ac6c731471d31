"""A bounded load test on loopback (fixed request count, concurrent clients, zero failures) and hot reload
under load: ``/admin/reload`` (to other sources and back) and SIGHUP swap generations with no failed request;
a reload from a broken bundle is refused naming the file and the old generation keeps serving."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from fastapi.testclient import TestClient

RANK = {"scenario": "feed_main", "user_id": 3, "item_ids": list(range(1, 201))}


def hammer(url: str, n: int, stop: threading.Event | None = None) -> list[tuple[float, float, int]]:
    """Up to ``n`` /v1/rank requests from one client (fewer once ``stop`` is set): (start, end, status)."""
    out = []
    with httpx.Client(base_url=url, timeout=30) as c:
        for _ in range(n):
            if stop is not None and stop.is_set():
                break
            t0 = time.perf_counter()
            try:
                status = c.post("/v1/rank", json=RANK).status_code
            except httpx.HTTPError:
                status = -1
            out.append((t0, time.perf_counter(), status))
    return out


def test_bounded_load_has_no_failures(server) -> None:
    with ThreadPoolExecutor(8) as pool:
        results = [r for part in pool.map(lambda _: hammer(server.url, 40), range(8)) for r in part]
    assert len(results) == 320
    assert [s for *_, s in results if s != 200] == []


def test_concurrent_requests_batched_equal_one_by_one(server) -> None:
    bodies = [{"scenario": ["feed_main", "search_text", "share/chat/product/fashion"][k % 3], "user_id": k,
               "query": {"tokens": [k, k + 1]} if k % 3 == 1 else None, "item_ids": list(range(k, k + 30)),
               **({"target_user_ids": list(range(30))} if k % 3 == 2 else {})} for k in range(24)]
    alone = [server.post("/v1/rank", b).json()["scores"] for b in bodies]
    with ThreadPoolExecutor(12) as pool, httpx.Client(base_url=server.url, timeout=30) as c:
        together = list(pool.map(lambda b: c.post("/v1/rank", json=b).json()["scores"], bodies))
    for a, b in zip(alone, together, strict=True):
        assert len(a) == 30 and max(abs(x - y) for x, y in zip(a, b, strict=True)) <= 1e-5
    assert alone[2] != alone[5]  # the receivers' rows differ by target user
    queries = [{"scenario": ["feed_main", "search_text"][k % 2], "user_id": k, "k": 5 + k,
                "exclude_item_ids": list(range(k))} for k in range(16)]
    alone = [server.post("/v1/retrieve", q).json()["items"] for q in queries]
    with ThreadPoolExecutor(8) as pool, httpx.Client(base_url=server.url, timeout=30) as c:
        together = list(pool.map(lambda q: c.post("/v1/retrieve", json=q).json()["items"], queries))
    for q, a, b in zip(queries, alone, together, strict=True):
        assert len(a) == q["k"] and [x["item_id"] for x in a] == [x["item_id"] for x in b]


def test_hot_reload_under_load_fails_no_request(server, serve_runs, bundle_copy) -> None:
    gen0 = server.client.get("/healthz").json()["generation"]
    stop = threading.Event()
    with ThreadPoolExecutor(4) as pool:
        futs = [pool.submit(hammer, server.url, 3000, stop) for _ in range(4)]
        time.sleep(0.3)
        t0 = time.perf_counter()
        r = server.post("/admin/reload", {"runs": [str(serve_runs["dnn"])]})  # to another source ...
        assert r.status_code == 200 and r.json()["runs"] == {"ranking": "dnn"}, r.text
        bad = bundle_copy()
        (bad / "ranking" / "config.yaml").write_text("tampered: true\n")
        r = server.post("/admin/reload", {"bundles": [str(bad)]})  # ... a broken one is refused ...
        assert r.status_code == 400 and "config.yaml" in r.json()["detail"], r.text
        server.hup()  # ... and SIGHUP reloads the current sources
        deadline = time.time() + 60
        while server.client.get("/healthz").json()["generation"] < gen0 + 2 and time.time() < deadline:
            time.sleep(0.1)
        t1 = time.perf_counter()
        time.sleep(0.2)
        stop.set()
        results = [x for f in futs for x in f.result()]
    h = server.client.get("/healthz").json()
    assert h["generation"] == gen0 + 2 and h["runs"] == {"ranking": "dnn"}
    assert [s for *_, s in results if s != 200] == []
    assert sum(1 for a, b, _ in results if t0 <= a and b <= t1) > 0  # requests were served during the swaps
    copy = bundle_copy()  # serve a bundle, rewrite it in place, SIGHUP: its manifest check refuses it
    assert server.post("/admin/reload", {"bundles": [str(copy)]}).json()["generation"] == gen0 + 3
    (copy / "matching" / "config.yaml").write_text("tampered: true\n")
    server.hup()
    deadline = time.time() + 30
    while "reload refused" not in server.log.read_text() and time.time() < deadline:
        time.sleep(0.1)
    assert f"reload refused, generation {gen0 + 3}" in server.log.read_text()
    assert server.post("/v1/rank", RANK).status_code == 200
    r = server.post("/admin/reload", {"bundles": [str(server.proc.args[server.proc.args.index("--bundle") + 1])]})
    assert r.status_code == 200 and r.json()["runs"] == {"ranking": "dnn", "matching": "dssm"}


def test_admin_reload_is_loopback_only(serve_runs) -> None:
    from unisr.serve.app import ServeState, create_app
    from unisr.serve.bundle import open_sources

    app = create_app(ServeState(open_sources([serve_runs["dnn"]], [])))
    with TestClient(app) as c:  # the test client's peer is "testclient", not a loopback address
        r = c.post("/admin/reload")
        assert r.status_code == 403 and "loopback" in r.json()["detail"]
        assert c.get("/healthz").json()["generation"] == 1


def hammer_gen(url: str, n: int, stop: threading.Event) -> list[tuple[float, float, int, int]]:
    """``hammer`` on one keep-alive connection, with the generation each answer names (``X-Unisr-Generation``)."""
    out = []
    with httpx.Client(base_url=url, timeout=30) as c:
        for _ in range(n):
            if stop.is_set():
                break
            t0 = time.perf_counter()
            try:
                r = c.post("/v1/rank", json=RANK)
                status, gen = r.status_code, int(r.headers.get("x-unisr-generation", -1))
            except httpx.HTTPError:
                status, gen = -1, -1
            out.append((t0, time.perf_counter(), status, gen))
    return out


def workers_seen(url: str, want: int, tries: int = 400) -> dict[int, dict]:
    """/healthz over fresh connections until ``want`` worker pids answered: pid -> its /healthz body."""
    seen: dict[int, dict] = {}
    for _ in range(tries):
        h = httpx.get(url + "/healthz", timeout=30).json()  # a new connection: any worker may accept it
        seen[h["pid"]] = h
        if len(seen) >= want:
            break
    return seen


def test_reload_reaches_every_worker(serve_runs, bundle, bundle_copy, tmp_path) -> None:
    """``--workers 2`` under load: ``/admin/reload`` to another bundle (and SIGHUP to the parent) reaches both
    workers; every request that starts after the reload answered is served by the new generation in whichever
    worker takes it, and no request fails; a broken bundle is refused by all and changes nothing."""
    from serve.conftest import Server
    from unisr.serve.bundle import export_bundle, sha256

    new = tmp_path / "dnn-only"
    export_bundle([serve_runs["dnn"]], new)
    server = Server(["--bundle", str(bundle), "--workers", "2"], tmp_path / "workers.log")
    try:
        before = workers_seen(server.url, 2)
        assert len(before) == 2, f"one worker answered {len(before)} fresh connections: {server.log.read_text()}"
        assert {h["generation"] for h in before.values()} == {1}
        assert {h["sha256"]["ranking"] for h in before.values()} == {sha256(bundle / "manifest.json")}
        stop = threading.Event()
        with ThreadPoolExecutor(4) as pool:
            futs = [pool.submit(hammer_gen, server.url, 5000, stop) for _ in range(4)]
            time.sleep(0.5)
            sent = time.perf_counter()
            r = server.post("/admin/reload", {"bundles": [str(new)]})
            committed = time.perf_counter()  # the commit happened between ``sent`` and here
            assert r.status_code == 200, r.text
            assert r.json()["generation"] == 2 and r.json()["runs"] == {"ranking": "dnn"}
            time.sleep(0.5)
            server.hup()  # the parent: the same sources again, in every worker
            deadline = time.time() + 120
            while time.time() < deadline and {h["generation"] for h in workers_seen(server.url, 2).values()} != {3}:
                time.sleep(0.2)
            bad = bundle_copy()
            (bad / "ranking" / "config.yaml").write_text("tampered: true\n")
            r = server.post("/admin/reload", {"bundles": [str(bad)]})
            assert r.status_code == 400 and "config.yaml" in r.json()["detail"], r.text
            time.sleep(0.3)
            stop.set()
            results = [x for f in futs for x in f.result()]
        after = workers_seen(server.url, 2)
        assert len(after) == 2 and set(after) == set(before)  # the same two processes: swapped, not restarted
        for h in after.values():
            assert h["generation"] == 3 and h["runs"] == {"ranking": "dnn"}
            assert h["sha256"] == {"ranking": sha256(new / "manifest.json")}
        assert [s for _, _, s, _ in results if s != 200] == []
        late = [g for t0, _, _, g in results if t0 > committed]
        early = [g for _, t1, _, g in results if t1 < sent]
        assert late and early and min(late) >= 2 and set(early) == {1}, (len(late), len(early))
        assert 1 in {g for *_, g in results} and 3 in {g for *_, g in results}
    finally:
        server.stop()
