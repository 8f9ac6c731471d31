"""The HTTP app of ``unisr serve`` (FastAPI; OpenAPI at ``/docs`` and ``/openapi.json``), CONTRACT.md "Serving".

Endpoints: ``GET /healthz``; ``POST /v1/rank`` (a ranking run scores the candidates), ``/v1/retrieve`` (a
matching run's tower + the scenario's FAISS index), ``/v1/recommend`` (retrieve ``candidates`` with the matching
run, rank them with the ranking run, return the top ``k``); ``GET /metrics`` (Prometheus text); ``POST
/admin/reload`` (loopback clients only) and SIGHUP load a new generation of the sources and swap it in
atomically: requests that started on the old generation finish on it, no request fails during a swap. With
``--workers N`` the reload is the two-phase one of ``serve/workers.py`` (every worker loads it, then all serve it
from one commit on). Model answers name their generation (``X-Unisr-Generation``); ``/healthz`` the worker's pid
and the served bundle's manifest sha256.

Errors: 422 with ``detail`` naming the field (``body.item_ids.3: ...``; also a field the served run cannot use,
``runtime.BadField``, e.g. an unknown trigger item of a BOMGraph run), 413 for bodies over ``MAX_BODY`` bytes,
404 for an unknown scenario or an endpoint the served runs cannot answer (no matching run for retrieve). Every
response carries ``X-Request-ID`` (the client's, or a new one), which each request's log line names.

Shapes:
    /v1/rank item_ids [N] -> scores [N]; /v1/retrieve k -> items [<= k]; /v1/recommend candidates C -> [<= k]
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import threading
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import numpy as np
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

import unisr
from unisr.data.gate import DataGateError
from unisr.index.faiss_index import IndexFolderError
from unisr.pipeline.config import ConfigError
from unisr.pipeline.pipeline import MissingInputError
from unisr.pipeline.run_folder import RunFolderError
from unisr.serve import schemas as S
from unisr.serve.bundle import BundleError, Source, open_sources, sha256
from unisr.serve.metrics import ServeMetrics
from unisr.serve.runtime import (
    BadField,
    Batcher,
    MatchRuntime,
    NotIndexed,
    Part,
    RankRuntime,
    Runtime,
    UnknownScenario,
    open_runtime,
)
from unisr.serve.runtime import Request as Ctx
from unisr.serve.workers import POLL_S, Control, ReloadRefused, read_json

MAX_BODY = 1 << 20  # 1 MiB
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOOPBACK = {"127.0.0.1", "::1", "localhost"}
SOURCE_ERRORS = (BundleError, RunFolderError, DataGateError, ConfigError, MissingInputError, IndexFolderError)
ENDPOINTS = {"/healthz", "/v1/rank", "/v1/retrieve", "/v1/recommend", "/metrics", "/admin/reload"}
log = logging.getLogger("unisr.serve")


class NotServed(LookupError):
    """The served runs cannot answer this endpoint (e.g. retrieve without a matching run)."""


@dataclass
class Generation:
    """One loaded set of runtimes (at most one ranking, one matching run)."""

    sources: list[Source]
    number: int
    runtimes: dict[str, Runtime] = field(default_factory=dict)
    sha256: dict[str, str] = field(default_factory=dict)  # role -> the bundle's manifest sha256 (a run: its weights')

    @classmethod
    def load(cls, sources: list[Source], number: int, batcher: Batcher | None = None) -> Generation:
        runtimes = {s.role: open_runtime(s.run, s.data, s.graph_dir) for s in sources}
        for rt in runtimes.values():
            rt.batcher = batcher
        return cls(sources, number, runtimes, {s.role: source_id(s) for s in sources})

    def get(self, role: str, endpoint: str) -> Runtime:
        rt = self.runtimes.get(role)
        if rt is None:
            raise NotServed(f"{endpoint} needs a {role} run; this server serves "
                            f"{', '.join(f'{r}: {x.cfg.model_name}' for r, x in self.runtimes.items())}")
        return rt

    @property
    def model(self) -> str:
        return "+".join(rt.cfg.model_name for rt in self.runtimes.values())


def source_id(s: Source) -> str:
    """What identifies a served source: its bundle's ``manifest.json`` sha256 (it lists every file's), or for a
    run folder its ``model.safetensors``' sha256."""
    man = s.run.parent / "manifest.json"
    return sha256(man) if s.data is not None and man.is_file() else sha256(s.run / "model.safetensors")


class ServeState:
    """The served generation; ``reload`` builds the next one beside it and swaps the reference.

    ``spec`` = (run folders, bundles) the sources came from: a reload opens them again, so a bundle rewritten
    in place passes its manifest check before it is served. With ``control`` (``--workers N``: the control
    folder of ``serve/workers.py``) a reload is the two-phase one of every worker: this process loads each
    prepared generation in a watcher thread, answers, and swaps to the committed one before it serves the
    next request (``stale`` / ``sync``)."""

    def __init__(self, sources: list[Source], batching: bool = True,
                 spec: tuple[list[str], list[str]] | None = None, control: Control | None = None,
                 number: int = 1) -> None:
        self.batcher = Batcher() if batching else None  # concurrent requests run together
        self.spec = spec
        self.current = Generation.load(sources, number, self.batcher)
        self.metrics = ServeMetrics()
        self.metrics.generation.set(number)
        self._reload = threading.Lock()
        self.control = control
        if control is not None:
            self._commit_key: tuple[int, int] | None = None  # the commit marker last acted on
            self._pending: tuple[str, Generation] | None = None  # (token, generation) loaded for a prepare
            self._answered: str | None = None
            control.register(os.getpid())
            threading.Thread(target=self._watch, daemon=True, name="unisr-reload-watch").start()

    def _swap(self, new: Generation, spec: tuple[list[str], list[str]] | None) -> None:
        self.current = new  # one reference assignment: atomic for the request threads
        self.spec = spec
        self.metrics.generation.set(new.number)
        log.info("reloaded: generation %d serving %s (pid %d)", new.number, new.model, os.getpid())

    def reload(self, spec: tuple[list[str], list[str]] | None = None) -> Generation:
        if self.control is not None:  # every worker: prepared everywhere, then committed (or refused)
            try:
                self.control.reload([list(spec[0]), list(spec[1])] if spec else None)
            except ReloadRefused as e:
                raise BundleError(str(e)) from None
            self.sync()
            return self.current
        with self._reload:  # one reload at a time; requests keep using ``current`` until the swap
            spec = spec or self.spec
            sources = open_sources(*spec) if spec else self.current.sources
            new = Generation.load(sources, self.current.number + 1, self.batcher)
            self._swap(new, spec)
            return new

    def reload_logged(self) -> None:
        """``reload`` for SIGHUP: a source that fails to load is logged (naming the file), the old one serves."""
        try:
            self.reload()
        except Exception as e:  # noqa: BLE001 - no caller to answer: say it in the log, keep serving
            log.error("reload refused, generation %d keeps serving: %s", self.current.number, e)

    def stale(self) -> bool:
        """A generation was committed since this worker last looked (one ``os.stat``; never without control)."""
        return self.control is not None and self.control.commit_key() != self._commit_key

    def sync(self) -> None:
        """Serve the last committed generation: the one loaded for its prepare, else (a worker that started
        during the reload) loaded now."""
        assert self.control is not None
        with self._reload:
            key = self.control.commit_key()
            c = self.control.committed()
            if key == self._commit_key or c is None:
                return
            if int(c["generation"]) > self.current.number:
                p = self._pending
                new = p[1] if p is not None and p[0] == c["token"] else Generation.load(
                    open_sources(*c["spec"]), int(c["generation"]), self.batcher)
                self._swap(new, tuple(c["spec"]))  # type: ignore[arg-type]
            self._pending = None
            self._commit_key = key

    def _watch(self) -> None:
        """Phase 1 in this worker: load each prepared generation beside the served one and answer."""
        assert self.control is not None
        while True:
            time.sleep(POLL_S)
            try:
                if self.stale():
                    self.sync()
                p = read_json(self.control.prepare)
                if p is None or p["token"] == self._answered or int(p["generation"]) <= self.current.number:
                    continue
                try:
                    new = Generation.load(open_sources(*p["spec"]), int(p["generation"]), self.batcher)
                    self._pending, err = (p["token"], new), None
                except Exception as e:  # noqa: BLE001 - the coordinator refuses the reload with this message
                    err = str(e) or type(e).__name__
                self._answered = p["token"]
                self.control.answer(p, os.getpid(), err)
            except Exception:  # noqa: BLE001 - the watcher must outlive any one bad marker
                log.exception("reload watcher (pid %d)", os.getpid())


def _ctx(rt: Runtime, req: S.Context, request: Request) -> Ctx:
    s = rt.scenario_index(req.scenario)
    request.state.scenario = req.scenario
    q = req.query
    return Ctx(scenario=s, user_id=req.user_id, query_id=q.query_id if q else None,
               tokens=tuple(q.tokens) if q and q.tokens is not None else None,
               trigger_item_id=req.trigger_item_id, target_user_id=req.target_user_id, ts=req.ts,
               emb=tuple(q.emb) if q and q.emb is not None else None)


def _generation(state: ServeState, request: Request) -> Generation:
    """The generation this request is served by (named in its ``X-Unisr-Generation`` header)."""
    g = state.current
    request.state.generation = g.number
    return g


def _field(loc: tuple) -> str:
    return ".".join(str(x) for x in loc)


def create_app(state: ServeState) -> FastAPI:
    """The app serving ``state`` (tests build it on run folders; ``unisr serve`` runs it under uvicorn)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202
        try:  # SIGHUP = reload the same sources (main thread only: not under a test client)
            signal.signal(signal.SIGHUP, lambda *_: threading.Thread(target=state.reload_logged, daemon=True).start())
        except ValueError:
            pass
        yield

    app = FastAPI(title="unisr serve", version=unisr.__version__, lifespan=lifespan)
    app.state.serve = state

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errs = exc.errors()
        first = errs[0] if errs else {"loc": ("body",), "msg": "invalid request"}
        return JSONResponse(status_code=422, content={
            "detail": f"{_field(first['loc'])}: {first['msg']}",
            "errors": jsonable_encoder([{"loc": e["loc"], "msg": e["msg"], "type": e.get("type")} for e in errs])})

    @app.exception_handler(BadField)
    async def bad_field(request: Request, exc: BadField) -> JSONResponse:  # what the run cannot embed: 422
        loc = ["body", *exc.field.split(".")]
        return JSONResponse(status_code=422, content={
            "detail": f"body.{exc.field}: {exc.args[1]}",
            "errors": [{"loc": loc, "msg": exc.args[1], "type": "value_error"}]})

    @app.exception_handler(UnknownScenario)
    async def unknown(request: Request, exc: UnknownScenario) -> JSONResponse:
        if isinstance(exc, NotIndexed):
            return JSONResponse(status_code=404, content={
                "detail": f"scenario: {exc.args[0]!r} has no item index in the matching run; indexed: {exc.args[1]}"})
        names = state.current.runtimes[next(iter(state.current.runtimes))].scenarios
        return JSONResponse(status_code=404, content={
            "detail": f"scenario: unknown scenario {exc.args[0]!r}; known: {names}"})

    @app.exception_handler(NotServed)
    async def not_served(request: Request, exc: NotServed) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(exc)})

    async def bad_source(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(status_code=400, content={"detail": str(exc)})

    for err in SOURCE_ERRORS:  # a reload to a source that cannot be served: 400 naming the file
        app.add_exception_handler(err, bad_source)

    @app.get("/healthz", response_model=S.Health)
    def healthz() -> S.Health:
        g = state.current
        return S.Health(status="ok", model=g.model, version=unisr.__version__,
                        runs={r: rt.cfg.model_name for r, rt in g.runtimes.items()}, generation=g.number,
                        sha256=g.sha256, pid=os.getpid())

    # the model endpoints run on the event loop and wait for the batcher (or a worker thread) on a future;
    # their answers are written as JSON directly (the response models document them in the OpenAPI spec)
    @app.post("/v1/rank", response_model=S.RankResponse)
    async def rank(req: S.RankRequest, request: Request) -> JSONResponse:
        g = _generation(state, request)
        rt: RankRuntime = g.get("ranking", "/v1/rank")  # type: ignore[assignment]
        targets = None if req.target_user_ids is None else np.asarray(req.target_user_ids, np.int64)
        scores = await rt.rank_async(Part(_ctx(rt, req, request), np.asarray(req.item_ids, np.int64), targets))
        return JSONResponse({"scores": scores.tolist()})

    @app.post("/v1/retrieve", response_model=S.RetrieveResponse)
    async def retrieve(req: S.RetrieveRequest, request: Request) -> JSONResponse:
        rt: MatchRuntime = _generation(state, request).get("matching", "/v1/retrieve")  # type: ignore[assignment]
        ids, scores = await rt.retrieve_async(_ctx(rt, req, request), req.k,
                                              np.asarray(req.exclude_item_ids, np.int64))
        return JSONResponse({"items": [{"item_id": i, "score": s}
                                       for i, s in zip(ids.tolist(), scores.tolist(), strict=True)]})

    @app.post("/v1/recommend", response_model=S.RecommendResponse)
    async def recommend(req: S.RecommendRequest, request: Request) -> JSONResponse:
        g = _generation(state, request)  # both stages on one generation
        m: MatchRuntime = g.get("matching", "/v1/recommend")  # type: ignore[assignment]
        r: RankRuntime = g.get("ranking", "/v1/recommend")  # type: ignore[assignment]
        ids, rs = await m.retrieve_async(_ctx(m, req, request), req.candidates,
                                         np.asarray(req.exclude_item_ids, np.int64))
        scores = await r.rank_async(Part(_ctx(r, req, request), ids))
        top = np.argsort(-scores, kind="stable")[: req.k]
        return JSONResponse({"items": [{"item_id": i, "score": s, "retrieval_score": t} for i, s, t in
                                       zip(ids[top].tolist(), scores[top].tolist(), rs[top].tolist(), strict=True)]})

    @app.get("/metrics")
    def metrics() -> Response:
        body, ctype = state.metrics.render()
        return Response(content=body, media_type=ctype)

    @app.post("/admin/reload", response_model=S.Health)
    def reload(request: Request, body: S.ReloadRequest | None = None) -> S.Health | JSONResponse:
        host = request.client.host if request.client else ""
        if host not in LOOPBACK:
            return JSONResponse(status_code=403, content={"detail": "/admin/reload: loopback clients only"})
        state.reload((body.runs, body.bundles) if body and (body.runs or body.bundles) else None)
        return healthz()

    return Guard(app, state)


class Guard:
    """ASGI middleware: the 1 MiB body limit (413), request ids (``X-Request-ID``), one log line and the
    metrics per request."""

    def __init__(self, app: FastAPI, state: ServeState) -> None:
        self.app, self.state = app, state

    def __getattr__(self, name: str):  # noqa: ANN204 - tests reach the FastAPI app's attributes through us
        return getattr(self.app, name)

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        headers = dict(scope.get("headers") or [])
        rid = headers.get(b"x-request-id", b"").decode("latin-1")[:64] or uuid.uuid4().hex
        status = {"code": 500}

        async def send_with_id(message) -> None:  # noqa: ANN001
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message.setdefault("headers", [])
                gen = (scope.get("state") or {}).get("generation")
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode("latin-1")),
                                      *([(b"x-unisr-generation", str(gen).encode())] if gen is not None else [])]
            await send(message)

        if self.state.stale():  # --workers N: a reload was committed; serve it from this request on
            await asyncio.to_thread(self.state.sync)
        try:
            body, too_big = await _read_body(receive, headers)
            if too_big:
                await _json(send_with_id, 413, {"detail": f"body: larger than {MAX_BODY} bytes"})
            else:
                sent = False

                async def replay():  # noqa: ANN202
                    nonlocal sent
                    if not sent:
                        sent = True
                        return {"type": "http.request", "body": body, "more_body": False}
                    return await receive()

                try:
                    await self.app(scope, replay, send_with_id)
                except Exception:  # noqa: BLE001 - a bug: the app answered 500 already; log it with the id
                    log.exception("request_id=%s failed", rid)
        finally:
            path = scope.get("path", "")
            endpoint = path if path in ENDPOINTS else "other"
            scen = (scope.get("state") or {}).get("scenario", "-")
            dt = time.perf_counter() - t0
            self.state.metrics.observe(endpoint, scen, status["code"], dt)
            log.info("request_id=%s %s %s %d %.1fms", rid, scope.get("method"), path, status["code"], dt * 1e3)


async def _read_body(receive, headers: dict) -> tuple[bytes, bool]:  # noqa: ANN001
    """The whole request body, or (b"", True) as soon as it is larger than ``MAX_BODY``."""
    try:
        if int(headers.get(b"content-length", b"0") or 0) > MAX_BODY:
            return b"", True
    except ValueError:
        pass
    parts, n = [], 0
    while True:
        msg = await receive()
        if msg["type"] != "http.request":
            break
        chunk = msg.get("body", b"")
        n += len(chunk)
        if n > MAX_BODY:
            return b"", True
        parts.append(chunk)
        if not msg.get("more_body", False):
            break
    return b"".join(parts), False


async def _json(send, status: int, content: dict) -> None:  # noqa: ANN001
    body = json.dumps(content).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


ENV_SOURCES = "UNISR_SERVE_SOURCES"


def app_from_env() -> Guard:
    """The app factory uvicorn's worker processes call (``--workers N``): sources from ``$UNISR_SERVE_SOURCES``."""
    spec = json.loads(os.environ[ENV_SOURCES])
    logging.basicConfig(level=spec.get("log_level", "INFO").upper(), format=LOG_FORMAT)  # a fresh process
    if spec.get("threads"):
        import torch

        torch.set_num_threads(int(spec["threads"]))
    runs, bundles = spec.get("runs", []), spec.get("bundles", [])
    control, number = None, 1
    if spec.get("control"):  # a worker of `--workers N`: the last committed generation (a replaced worker)
        control = Control(spec["control"], [runs, bundles])
        last = control.committed()
        if last is not None:
            (runs, bundles), number = last["spec"], int(last["generation"])
    return create_app(ServeState(open_sources(runs, bundles), spec.get("batching", True), (runs, bundles), control,
                                 number))
