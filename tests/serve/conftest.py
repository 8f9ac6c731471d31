"""Fixtures of the serving tests: tiny runs trained once per session (a DNN ranking run, an SRJGraph run, a
DSSM matching run, all on the shared ``sim_dir``), their bundle, and real ``unisr serve`` processes on
127.0.0.1 at free ports, stopped by the fixture.

Shapes:
    (no tensors) runs -> {"dnn": RUN, "srjgraph": RUN, "dssm": RUN}; Server.url, Server.post(path, body)
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

FAST = ["train.epochs=1", "train.max_steps_per_epoch=2", "train.progress=false", "train.threads=1"]
UNISR = [sys.executable, "-m", "unisr.cli.main"]


@pytest.fixture(scope="session")
def serve_runs(sim_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One tiny run per model, trained in this process (a few optimiser steps: serving, not quality)."""
    from unisr.train.run import train_run

    base = tmp_path_factory.mktemp("serve_runs")
    out = {}
    for model in ("dnn", "srjgraph", "dssm"):
        train_run(model, sim_dir, base / model, sets=FAST)
        out[model] = base / model
    return out


@pytest.fixture(scope="session")
def bundle(serve_runs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle of the DNN ranking run and the DSSM matching run, written by the real CLI."""
    out = tmp_path_factory.mktemp("bundles") / "dnn+dssm"
    r = subprocess.run([*UNISR, "export", "--run", str(serve_runs["dnn"]), "--run", str(serve_runs["dssm"]),
                        "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A real ``unisr serve`` process on 127.0.0.1 (its log in ``log``)."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        self._out = open(log, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([*UNISR, "serve", *args, "--port", str(self.port)], stdout=self._out,
                                     stderr=subprocess.STDOUT, env=env)
        self.client = httpx.Client(base_url=self.url, timeout=30)
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"unisr serve exited {self.proc.returncode}:\n{log.read_text()}")
            try:
                if self.client.get("/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"unisr serve did not answer /healthz in time:\n{log.read_text()}")

    def post(self, path: str, body: object, **kw) -> httpx.Response:  # noqa: ANN003
        return self.client.post(path, json=body, **kw)

    def hup(self) -> None:
        self.proc.send_signal(signal.SIGHUP)

    def stop(self) -> None:
        self.client.close()
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._out.close()


@pytest.fixture(scope="session")
def server(bundle: Path, tmp_path_factory: pytest.TempPathFactory):
    """``unisr serve --bundle`` of the DNN + DSSM bundle."""
    s = Server(["--bundle", str(bundle)], tmp_path_factory.mktemp("logs") / "bundle.log")
    yield s
    s.stop()


@pytest.fixture(scope="session")
def graph_server(serve_runs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory):
    """``unisr serve --run`` of the SRJGraph run (its sampler on the dataset's graph snapshot)."""
    s = Server(["--run", str(serve_runs["srjgraph"])], tmp_path_factory.mktemp("logs") / "graph.log")
    yield s
    s.stop()


@pytest.fixture
def bundle_copy(bundle: Path, tmp_path: Path):
    """``copy()``: a fresh copy of the bundle to tamper with (a new folder per call)."""
    made: list[Path] = []

    def copy() -> Path:
        dst = tmp_path / f"bundle{len(made)}"
        made.append(dst)
        shutil.copytree(bundle, dst, copy_function=shutil.copy2)
        return dst

    return copy
