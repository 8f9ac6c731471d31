"""``unisr simulate``: write the simulated marketplace as a canonical dataset.

``--out`` must be a folder path: a file, a path under a file, or a non-empty folder that is not a dataset
(no ``dataset.yaml``) exits 2 naming it.

Shapes:
    (no tensors) --preset --out DIR -> canonical dataset
"""

from __future__ import annotations

from pathlib import Path

import typer

from unisr.cli.errors import BadInput


def register(app: typer.Typer) -> None:
    @app.command("simulate")
    def simulate_cmd(
        preset: str = typer.Option("tiny", "--preset", help="tiny (<=100k events), small (~2M), medium (~20M), large (~200M, streamed)."),
        out: Path = typer.Option(..., "--out", help="Output folder (the dataset's tables are replaced)."),
        seed: int = typer.Option(0, "--seed", help="Random seed: the same seed gives identical files."),
        set_: list[str] = typer.Option(
            [], "--set", help="Override a simulator parameter, dotted key=value (repeatable), e.g. catalog.n_items=500; "
            "version=1 gives data version 1, the benchmark records' data (default: version 2)."
        ),
        workers: int = typer.Option(0, "--workers", help="Processes for streamed presets (0 = up to 2); never changes the files."),
        quiet: bool = typer.Option(False, "--quiet", help="No progress bar or summary."),
    ) -> None:
        """Simulate the marketplace (every scenario of the five papers, with the true click probability)."""
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        from unisr.cli.paths import DATASET_MARKERS, check_out
        from unisr.simulate import PRESETS, OverrideError, resolve_config, simulate_config

        check_out(out, kind="dataset folder", markers=DATASET_MARKERS, finished="")
        if workers < 0:
            raise BadInput("--workers: must be >= 0")
        if preset not in PRESETS:
            raise BadInput(f"--preset: unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
        try:
            cfg = resolve_config(preset, set_)
        except OverrideError as e:
            raise BadInput(str(e)) from e
        console = Console(stderr=True)
        show = not quiet and cfg.chunk_users > 0 and cfg.chunk_users < cfg.users.n_users
        if show:
            with Progress(
                TextColumn("simulate"), BarColumn(), TextColumn("{task.completed}/{task.total} chunks"),
                TextColumn("{task.fields[events]:,} events"), TimeElapsedColumn(), console=console,
            ) as bar:
                task = bar.add_task("chunks", total=None, events=0)

                def progress(done: int, total: int, events: int) -> None:
                    bar.update(task, completed=done, total=total, events=events)

                summary = simulate_config(cfg, out, seed, preset, progress, workers or None)
        else:
            summary = simulate_config(cfg, out, seed, preset, None, workers or None)
        if not quiet:
            console.print(
                f"wrote {summary.out}: {summary.n_events:,} events, {summary.n_requests:,} requests, "
                f"{summary.n_sessions:,} sessions in {summary.seconds:.1f} s "
                f"({summary.n_events / max(summary.seconds, 1e-9):,.0f} events/s)"
            )
