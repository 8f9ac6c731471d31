"""``unisr serve --run RUN | --bundle B [--host 127.0.0.1] [--port 8000] [--workers N]``: HTTP serving of a
trained run or bundle (``unisr.serve.app``) under uvicorn; binds 127.0.0.1 unless told otherwise. A bundle
whose files fail the manifest check, or a run folder that cannot be loaded, exits 2 naming the file.

Shapes:
    (no tensors) command-line options -> a running server
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from unisr.cli.errors import BadInput


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        run: Annotated[list[Path] | None, typer.Option(help="run folder (repeat: a ranking and a matching run)")] = None,
        bundle: Annotated[list[Path] | None, typer.Option(help="bundle written by `unisr export`")] = None,
        host: Annotated[str, typer.Option(help="address to bind (loopback by default)")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="TCP port")] = 8000,
        workers: Annotated[int, typer.Option(min=1, help="server processes (each loads the runs)")] = 1,
        threads: Annotated[int, typer.Option(min=1, help="torch threads per process")] = 1,
        batching: Annotated[bool, typer.Option(help="score concurrent rank requests in one forward pass")] = True,
        log_level: Annotated[str, typer.Option(help="uvicorn / unisr.serve log level")] = "info",
    ) -> None:
        """Serve /v1/rank, /v1/retrieve, /v1/recommend, /healthz and /metrics (OpenAPI at /docs)."""
        import torch
        import uvicorn

        from unisr.cli.train import bad_input_errors
        from unisr.serve.app import ENV_SOURCES, LOG_FORMAT, ServeState, create_app
        from unisr.serve.bundle import BundleError, open_sources

        torch.set_num_threads(threads)
        logging.basicConfig(level=log_level.upper(), format=LOG_FORMAT)
        runs, bundles = [str(r) for r in run or []], [str(b) for b in bundle or []]
        try:
            sources = open_sources(runs, bundles)  # the manifest check (exit 2 naming the file) before serving
            if workers == 1:
                served = create_app(ServeState(sources, batching, (runs, bundles)))
        except (BundleError, *bad_input_errors()) as e:
            raise BadInput(str(e)) from None
        if workers == 1:
            uvicorn.run(served, host=host, port=port, log_level=log_level, access_log=False)
            return
        from unisr.serve.workers import run_supervisor  # a reload reaches every worker (serve/workers.py)

        run_supervisor("unisr.serve.app:app_from_env", {"runs": runs, "bundles": bundles, "batching": batching,
                       "log_level": log_level, "threads": threads}, host=host, port=port, workers=workers, log_level=log_level,
                       env_name=ENV_SOURCES)
