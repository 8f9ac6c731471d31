"""Output paths of the commands: ``--out`` must be a folder we may write (exit 2 naming the path otherwise).

Shapes:
    (no tensors) check_out(path, ...) -> None or BadInput
"""

from __future__ import annotations

from pathlib import Path

from unisr.cli.errors import BadInput

# a folder holding any of these is a run folder (``unisr train`` wrote it, perhaps unfinished)
RUN_MARKERS = ("config.yaml", "model.safetensors", "train_log.jsonl", "checkpoints", "encoders")
DATASET_MARKERS = ("dataset.yaml",)


def check_out(out: str | Path, *, overwrite: bool = False, resume: bool = False, what: str = "--out",
              kind: str = "run folder", markers: tuple[str, ...] = RUN_MARKERS, finished: str = "metrics.json") -> None:
    """Refuse an output path that is a file, lies under a file, is a non-empty folder that is not a ``kind``
    (none of ``markers`` in it), or is a finished one (``finished`` present) without ``overwrite``/``resume``."""
    out = Path(out)
    for p in [out, *out.parents]:
        if p.exists() and not p.is_dir():
            where = "is a file" if p == out else f"lies under {p}, which is a file"
            raise BadInput(f"{what} {out}: {where}; give a folder path")
    if not out.exists():
        return
    if any(out.iterdir()) and not any((out / m).exists() for m in markers):
        raise BadInput(f"{what} {out}: an existing folder that is not a {kind} (none of "
                       f"{', '.join(markers)}); refusing to write into it")
    if finished and (out / finished).exists() and not (overwrite or resume):
        raise BadInput(f"{what} {out}: a finished {kind} ({finished} exists); pass --overwrite to replace it")
