"""Hot reload across the worker processes of ``unisr serve --workers N``: one reload reaches every worker,
atomically, with no failed request.

The server's parent process (uvicorn's supervisor, ``Supervisor``) makes a control folder and hands its path
to the workers; every worker registers there and watches two marker files, each written whole by one rename:

    CONTROL/workers/<pid>        a worker that serves (written at its start)
    CONTROL/prepare.json         {"generation": N, "spec": [runs, bundles], "token"}: phase 1, load N beside
                                 the served generation
    CONTROL/ready/<N>.<pid>      {"ok": true, "token"} or {"ok": false, "error": "<file>: ...", "token"}: a
                                 worker's answer (``token`` names the attempt)
    CONTROL/commit.json          {"generation": N, "spec", "token"}: phase 2, serve N

A reload (``Control.reload``: a loopback ``/admin/reload`` in any worker, SIGHUP to any worker or to the parent)
takes the folder's lock, writes ``prepare.json`` and waits until every live worker has loaded generation N
(``ready``). If one cannot (a bundle that fails its manifest check, say), nothing is committed: every worker
keeps serving its generation and the reload is refused naming the file. Otherwise it writes ``commit.json``
(one ``os.replace``). Each worker checks the commit marker (one ``os.stat``) before it serves a request and
swaps in the generation it has already loaded: every request that starts after the commit is served by the
new generation in every worker, requests in flight finish on the old one, and no request waits for a load.
A worker started later (uvicorn replaces a dead one) serves the last committed generation.

Shapes:
    (no tensors) Control.reload(spec | None) -> the committed {"generation", "spec"}
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path

log = logging.getLogger("unisr.serve")
POLL_S = 0.05
LOAD_TIMEOUT_S = 300.0


class ReloadRefused(ValueError):
    """A worker could not load the new generation (the message names the file), or none answered in time."""


def write_json(path: Path, obj: dict) -> None:
    """``obj`` into ``path`` in one rename (a reader sees the old file or the new one, never a part)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    tmp.write_text(json.dumps(obj))
    os.replace(tmp, path)


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def alive(pid: int) -> bool:
    """A running process (not a zombie its parent has not reaped yet)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return True


class Control:
    """The control folder of one multi-worker server (layout in the module docstring)."""

    def __init__(self, root: str | Path, spec: list | None = None) -> None:
        self.root = Path(root)
        self.base_spec = spec  # the sources the server started with (generation 1)
        self.prepare, self.commit = self.root / "prepare.json", self.root / "commit.json"
        (self.root / "workers").mkdir(parents=True, exist_ok=True)
        (self.root / "ready").mkdir(exist_ok=True)

    @classmethod
    def create(cls, spec: list) -> Control:
        return cls(tempfile.mkdtemp(prefix="unisr-serve-"), spec)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    # ---------------------------------------------------------------- a worker's side
    def register(self, pid: int) -> None:
        (self.root / "workers" / str(pid)).write_text("")

    def committed(self) -> dict | None:
        return read_json(self.commit)

    def commit_key(self) -> tuple[int, int] | None:
        """(inode, mtime) of the commit marker: changes with every commit (one ``os.stat``)."""
        try:
            st = os.stat(self.commit)
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_mtime_ns

    def answer(self, prepared: dict, pid: int, error: str | None) -> None:
        write_json(self.root / "ready" / f"{prepared['generation']}.{pid}",
                   {"ok": error is None, "error": error, "token": prepared["token"]})

    # ---------------------------------------------------------------- the coordinator's side
    def workers(self) -> list[int]:
        """The live workers (entries of dead ones removed)."""
        out = []
        for f in (self.root / "workers").iterdir():
            if f.name.isdigit() and alive(int(f.name)):
                out.append(int(f.name))
            else:
                f.unlink(missing_ok=True)
        return sorted(out)

    @contextlib.contextmanager
    def locked(self):  # noqa: ANN201 - one reload at a time, across processes
        with open(self.root / "lock", "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def reload(self, spec: list | None = None, timeout: float = LOAD_TIMEOUT_S) -> dict:
        """Phase 1 (every live worker loads generation N), then phase 2 (commit N); ``ReloadRefused`` naming the
        file when a worker cannot load it, in which case nothing changes anywhere."""
        with self.locked():
            last = self.committed() or {"generation": 1, "spec": self.base_spec}
            spec = spec if spec is not None else last["spec"]
            n = int(last["generation"]) + 1
            token = uuid.uuid4().hex  # this attempt's (a refused attempt's late answers do not count)
            write_json(self.prepare, {"generation": n, "spec": spec, "token": token})
            deadline = time.monotonic() + timeout
            try:
                while True:
                    pids = self.workers()
                    answers = {p: read_json(self.root / "ready" / f"{n}.{p}") for p in pids}
                    answers = {p: a if a is not None and a.get("token") == token else None for p, a in answers.items()}
                    bad = [(p, a["error"]) for p, a in answers.items() if a is not None and not a["ok"]]
                    if bad:
                        raise ReloadRefused(bad[0][1])
                    if pids and all(a is not None for a in answers.values()):
                        break
                    if time.monotonic() > deadline:
                        missing = [p for p, a in answers.items() if a is None]
                        raise ReloadRefused(f"workers {missing} did not load generation {n} in {timeout:.0f} s"
                                            if pids else "no worker registered in " + str(self.root))
                    time.sleep(POLL_S)
                out = {"generation": n, "spec": spec, "token": token}
                write_json(self.commit, out)
                log.info("reload committed: generation %d in workers %s", n, pids)
                return out
            finally:
                self.prepare.unlink(missing_ok=True)
                for f in (self.root / "ready").glob(f"{n}.*"):
                    f.unlink(missing_ok=True)

    def reload_logged(self) -> None:
        """``reload`` for SIGHUP to the parent: a refusal is logged, every worker keeps serving."""
        try:
            self.reload()
        except Exception as e:  # noqa: BLE001 - no caller to answer: say it in the log
            log.error("reload refused, every worker keeps serving its generation: %s", e)


def run_supervisor(app: str, spec: dict, *, host: str, port: int, workers: int, log_level: str,
                   env_name: str) -> None:
    """uvicorn's multi-process supervisor with the control folder in ``$env_name`` and SIGHUP = ``Control.reload``
    (uvicorn's own SIGHUP restarts the workers one by one, which drops the keep-alive connections of each)."""
    import inspect

    import uvicorn
    from uvicorn.supervisors.multiprocess import Multiprocess

    control = Control.create([spec["runs"], spec["bundles"]])
    os.environ[env_name] = json.dumps({**spec, "control": str(control.root)})

    class Supervisor(Multiprocess):
        def handle_hup(self) -> None:
            log.info("SIGHUP: reloading every worker (%s)", control.root)
            threading.Thread(target=control.reload_logged, daemon=True).start()

    kw: dict = {}
    if "timeout_worker_healthcheck" in inspect.signature(uvicorn.Config.__init__).parameters:
        kw["timeout_worker_healthcheck"] = 60  # a worker loading its runs on a busy machine is not hung
    config = uvicorn.Config(app, factory=True, host=host, port=port, workers=workers, log_level=log_level,
                            access_log=False, **kw)
    sock = config.bind_socket()
    server = uvicorn.Server(config)
    target = {"target": server.run} if "target" in inspect.signature(Multiprocess.__init__).parameters else {}
    try:
        Supervisor(config, sockets=[sock], **target).run()
    finally:
        control.remove()
