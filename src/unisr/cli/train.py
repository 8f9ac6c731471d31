"""``unisr models``, ``unisr train``, ``unisr evaluate`` (``unisr benchmark``: ``cli/benchmark.py``).

Bad input exits 2 with a message naming the file, column, row or config key: a dataset the data gate cannot
read (``unisr.data.gate``), a bad row under ``data.on_bad_rows=fail``, a bad config value, an ``--out`` that is a
file, lies under one, is a folder that is not a run, or a finished run without ``--overwrite``, a run folder or
checkpoint that is not ours or does not match the config.

Shapes:
    (no tensors) command-line options -> run folder / metrics JSON
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from unisr.cli.errors import BadInput

console = Console()
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def _check_data(data: Path) -> None:
    from unisr.data.gate import DataGateError, load_spec

    if not data.is_dir():
        raise BadInput(f"--data {data}: no such dataset folder")
    if not (data / "dataset.yaml").exists():
        raise BadInput(f"{data / 'dataset.yaml'}: missing (not a canonical dataset; see `unisr data validate`)")
    try:
        load_spec(data)
    except DataGateError as e:
        raise BadInput(str(e)) from None


def open_data_gate(data: Path, policy: str | None = None):
    """Open the data gate of ``data`` (exit 2 if the dataset is unusable) and print its counts to stderr."""
    from unisr.data.gate import BadRowError, DataGateError, open_gate

    try:
        gate = open_gate(data)
        if policy is not None:
            gate.enforce(policy)
    except (DataGateError, BadRowError) as e:
        raise BadInput(f"{data}: {e}") from None
    for line in gate.summary():
        err_console.print(line, markup=False)
    return gate


def _prepare_train(model: str, data: Path, out: Path, config: Path | None, *, resume: bool, overwrite: bool) -> None:
    """The checks of ``unisr train`` before any training (exit 2 on bad input) and the clean-up of a replaced
    run folder; opens the data gate (its counts to stderr)."""
    from unisr.cli.paths import check_out
    from unisr.models.registry import get_model_info

    try:
        get_model_info(model)
    except KeyError as e:
        raise BadInput(f"--model: {e.args[0]}") from e
    _check_data(data)
    if config is not None and not config.is_file():
        raise BadInput(f"--config {config}: no such file")
    check_out(out, overwrite=overwrite, resume=resume)
    if overwrite and not resume:  # nothing of the replaced run may leak into this one (e.g. a --resume later)
        import shutil

        for name in ("metrics.json", "rejected.parquet", "train_log.jsonl"):
            (out / name).unlink(missing_ok=True)
        if (out / "checkpoints").is_dir():
            shutil.rmtree(out / "checkpoints")
    open_data_gate(data)


def share_gate(world, data: Path) -> None:  # noqa: ANN001 - pipeline.distributed.World
    """Rank 0's data gate (the rows it rejects, scanned once) installed on every rank, so the other ranks do
    not re-scan the events."""
    from unisr.data.gate import active_gate
    from unisr.data.reader import set_active_filter

    gate = world.broadcast(active_gate(data) if world.is_main else None)
    if not world.is_main and gate is not None:
        set_active_filter(data, gate)


def launch_ranks(nproc: int, *, model: str, data: Path, out: Path, config: Path | None, sets: list[str],
                 seed: int | None, resume: bool, overwrite: bool) -> None:
    """``unisr train --nproc N``: the same command under ``torchrun --standalone --nproc-per-node N`` (each rank
    one thread per core share); a failed rank fails the job with exit 1 and the way to finish it."""
    import subprocess
    import sys

    argv = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(nproc),
            "-m", "unisr.cli.main", "train", "--model", model, "--data", str(data), "--out", str(out)]
    if config is not None:
        argv += ["--config", str(config)]
    for kv in sets:
        argv += ["--set", kv]
    if seed is not None:
        argv += ["--seed", str(seed)]
    argv += ["--resume"] if resume else []
    argv += ["--overwrite"] if overwrite else []
    rc = subprocess.call(argv)
    if rc != 0:
        err_console.print(f"unisr train: the data-parallel job failed (a rank exited with an error or was killed; "
                          f"torchrun's report is above, exit code {rc}). The run folder {out} keeps its last "
                          f"checkpoint: finish it with the same command and --resume.", markup=False)
        raise typer.Exit(1)


def bad_input_errors() -> tuple[type[BaseException], ...]:
    """The exceptions of the library that mean bad input (exit 2), not an internal error."""
    from unisr.data.gate import BadRowError, DataGateError
    from unisr.data.loader import LoaderConfigError
    from unisr.data.reader import MissingTableError
    from unisr.pipeline.config import ConfigError
    from unisr.pipeline.pipeline import MissingInputError
    from unisr.pipeline.run_folder import RunFolderError

    return (ConfigError, LoaderConfigError, DataGateError, BadRowError, RunFolderError, MissingInputError,
            MissingTableError)


def metrics_table(metrics: dict, title: str) -> Table:
    keys = [k for k in ("auc", "gauc", "logloss", "mrr", "hr@5", "hr@10", "oracle_auc",  # ranking
                        "hr@20", "hr@50", "recall@50", "ndcg@20", "mrr@20",  # matching (CONTRACT.md)
                        "n") if k in metrics["overall"]]
    t = Table(title=title)
    t.add_column("scenario")
    for k in keys:
        t.add_column(k, justify="right")
    rows = [("overall", metrics["overall"])] + list(metrics["scenarios"].items())
    for name, m in rows:
        t.add_row(name, *[f"{m[k]:,}" if k == "n" else (f"{m[k]:.4f}" if k in m else "") for k in keys])
    return t


def register(app: typer.Typer) -> None:
    @app.command("models")
    def models_cmd(as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False):
        """List every registered model: name, task, paper, what data it needs."""
        from unisr.models.registry import MODELS, load_builtin_models

        load_builtin_models()
        rows = [MODELS[k].to_json() for k in sorted(MODELS)]
        if as_json:
            typer.echo(json.dumps(rows, indent=1))
            return
        t = Table(title="unisr models")
        for c in ("name", "task", "paper", "needs"):
            t.add_column(c)
        for r in rows:
            t.add_row(r["name"], r["task"], r["paper"], ", ".join(r["needs"]))
        console.print(t)

    @app.command("train")
    def train_cmd(
        model: Annotated[str, typer.Option(help="registered model name (see `unisr models`)")],
        data: Annotated[Path, typer.Option(help="canonical dataset folder")],
        out: Annotated[Path, typer.Option(help="run folder to write")],
        config: Annotated[Path | None, typer.Option(help="YAML config file layered over the defaults")] = None,
        set_: Annotated[list[str] | None, typer.Option("--set", help="key=value override, repeatable")] = None,
        seed: Annotated[int | None, typer.Option(help="training seed")] = None,
        resume: Annotated[bool, typer.Option(help="continue from RUN/checkpoints/last.pt")] = False,
        overwrite: Annotated[bool, typer.Option(help="replace a finished run folder at --out")] = False,
        nproc: Annotated[int, typer.Option(help="data-parallel processes on this machine (torchrun, gloo on "
                                                "CPU); 1 = this process", min=1)] = 1,
    ):
        """Train, early-stop on validation, keep the best checkpoint, evaluate on test, write RUN/."""
        from unisr.pipeline.distributed import World
        from unisr.train.run import train_run

        if nproc > 1 and World.env_size() <= 1:
            _prepare_train(model, data, out, config, resume=resume, overwrite=overwrite)  # bad input: exit 2 here
            from unisr.models.registry import get_model_info

            if get_model_info(model).task == "matching":
                raise BadInput(f"--nproc {nproc}: model {model!r}: matching models train in one process for now "
                               "(their retrieval evaluation is not gathered across ranks)")
            launch_ranks(nproc, model=model, data=data, out=out, config=config, sets=set_ or [], seed=seed,
                         resume=resume, overwrite=overwrite)
            return
        world = World.from_env()
        try:
            # rank 0 checks and prepares --out and opens the data gate; the other ranks take its verdict and gate
            problem = None
            if world.is_main:
                try:
                    _prepare_train(model, data, out, config, resume=resume, overwrite=overwrite)
                except BadInput as e:
                    problem = e.message
            problem = world.broadcast(problem)
            if problem is not None:
                raise BadInput(problem)
            if world.distributed:
                share_gate(world, data)
            try:
                run = train_run(model, data, out, config_file=config, sets=set_ or [], seed=seed, resume=resume,
                                world=world)
            except bad_input_errors() as e:
                raise BadInput(str(e)) from None
        finally:
            world.close()
        if not world.is_main:
            return
        console.print(metrics_table(run.metrics, f"{model} on {run.metrics['dataset']} (test)"))
        if run.metrics.get("rejected"):
            console.print(f"rejected rows with their reason: {out / 'rejected.parquet'}")
        console.print(f"run written to [bold]{out}[/bold]")

    @app.command("evaluate")
    def evaluate_cmd(
        run: Annotated[Path, typer.Option(help="a run folder written by `unisr train`")],
        data: Annotated[Path | None, typer.Option(help="dataset (default: the one recorded in the run)")] = None,
        split: Annotated[str, typer.Option(help="train, valid or test")] = "test",
    ):
        """Re-evaluate a trained run on a split."""
        from unisr.pipeline.run_folder import RunFolderError, read_config
        from unisr.train.run import evaluate_run

        if not (run / "config.yaml").exists() or not (run / "model.safetensors").exists():
            raise BadInput(f"--run {run}: not a run folder (config.yaml and model.safetensors expected)")
        if split not in ("background", "train", "valid", "test"):
            raise BadInput(f"--split {split!r}: expected train, valid or test")
        if data is None:
            try:
                recorded = read_config(run).data_path
            except RunFolderError as e:
                raise BadInput(str(e)) from None
            if not recorded:
                raise BadInput("--data is required: the run does not record its dataset path")
            data = Path(recorded)
        _check_data(data)
        open_data_gate(data)
        try:
            metrics = evaluate_run(run, data, split)
        except bad_input_errors() as e:
            raise BadInput(str(e)) from None
        typer.echo(json.dumps(metrics, indent=1, default=float)) if not console.is_terminal else console.print(
            metrics_table(metrics, f"{metrics['model']} ({split})"))
