"""``unisr graph build``: build (and cache) the heterogeneous graph of a dataset's training window.

The events pass the data gate first (``unisr.data.gate``): the graph is built from the usable rows only, the
others go to ``GRAPH/rejected.parquet`` with their reason and are counted on stderr.

Shapes:
    (no tensors) --data DIR --out GRAPH -> npy files + manifest.json
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from unisr.cli.errors import BadInput

app = typer.Typer(help="Graphs built from the logs: build and cache.", no_args_is_help=True)


@app.command("build")
def build(
    data: Annotated[Path, typer.Option("--data", help="Folder of a canonical dataset.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder of the graph (npy files + manifest.json).")],
    splits: Annotated[str, typer.Option("--splits", help="Comma-separated windows that become edges.")] = (
        "background,train"),
    se_k: Annotated[int, typer.Option("--se-k", help="kNN neighbours per item for similarity edges.")] = 10,
    se_threshold: Annotated[float, typer.Option("--se-threshold", help="Cosine threshold of SE edges.")] = 0.8,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even if a matching cache exists.")] = False,
) -> None:
    """Build the user/item/query/trigger graph of the training window (cached on disk)."""
    from pydantic import ValidationError

    from unisr.cli.paths import check_out
    from unisr.cli.train import _check_data, bad_input_errors, open_data_gate
    from unisr.data.reader import MissingTableError
    from unisr.graph.build import GraphConfig, build_or_load

    if not data.is_dir() or not (data / "dataset.yaml").exists():
        raise BadInput(f"--data: {data} is not a canonical dataset (no dataset.yaml)")
    _check_data(data)
    check_out(out, kind="graph folder", markers=("manifest.json",), finished="")
    gate = open_data_gate(data)
    try:
        config = GraphConfig(splits=tuple(s.strip() for s in splits.split(",") if s.strip()), se_k=se_k,
                             se_threshold=se_threshold)
    except ValueError as e:
        raise BadInput(f"--splits/--se-k/--se-threshold: {e}") from None
    try:
        g, cached = build_or_load(data, out, config, force=force)
    except MissingTableError as e:
        raise BadInput(str(e)) from None
    except ValidationError as e:
        raise BadInput(f"{data}/dataset.yaml: {e}") from None
    except bad_input_errors() as e:
        raise BadInput(str(e)) from None
    if gate.write_rejected(out) is not None:
        typer.echo(f"rejected rows with their reason: {out / 'rejected.parquet'}", err=True)
    typer.echo(f"{'cached' if cached else 'built'} {out}: {g.num_edges:,} edges in {len(g.relations)} relations, "
               f"{g.bytes_per_edge():.1f} bytes/edge, nodes {g.num_nodes}"
               + ("" if cached else f", {g.meta['build_seconds']:.1f} s"))


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="graph")
