"""``unisr export --run RUN [--run RUN2] --out BUNDLE [--onnx]``: a self-contained serving bundle
(``unisr.serve.bundle``): weights, config, encoders, item indexes, graph snapshot, the dataset files the pipeline
reads, and a manifest with every file's sha256; ``--onnx`` adds ONNX graphs of the ranker / towers.

Shapes:
    (no tensors) command-line options -> bundle folder
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from unisr.cli.errors import BadInput


def register(app: typer.Typer) -> None:
    @app.command("export")
    def export(
        run: Annotated[list[Path], typer.Option(help="run folder (repeat: one ranking and one matching run)")],
        out: Annotated[Path, typer.Option(help="bundle folder to write (new or empty)")],
        onnx: Annotated[bool, typer.Option(help="also export the ranker / towers to ONNX (checked on export)")] = False,
    ) -> None:
        """Write a serving bundle of trained run(s)."""
        from unisr.cli.train import bad_input_errors
        from unisr.serve.bundle import BundleError, export_bundle

        for r in run:
            if not (r / "config.yaml").is_file() or not (r / "model.safetensors").is_file():
                raise BadInput(f"--run {r}: not a run folder (config.yaml and model.safetensors expected)")
        try:
            man = export_bundle(run, out, onnx=onnx)
        except (BundleError, *bad_input_errors()) as e:
            raise BadInput(str(e)) from None
        runs = ", ".join(f"{e['role']}: {e['model']}" for e in man["runs"])
        typer.echo(f"wrote {out} ({runs}; {len(man['files'])} files)")
