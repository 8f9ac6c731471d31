"""What machine a benchmark ran on, in the form its output file records (imported by the scripts beside it)."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine(threads: int, **extra) -> dict:
    """CPU, cores, torch threads, load average now, Python and torch versions (+ ``extra``)."""
    import torch

    return {"cpu": cpu_model(), "nproc": os.cpu_count(), "threads": threads, "loadavg": os.getloadavg(),
            "python": platform.python_version(), "torch": torch.__version__, **extra}


def write_result(path: Path, *, benchmark: str, title: str, figure: str, goal: str, script: str, argv: list[str],
                 threads: int, tables: list[dict], notes: list[str], **extra) -> dict:
    """Write a ``unisr-benchmark/1`` result file (``src/unisr/bench/page.py`` renders it): the command that made it
    (``script`` with ``argv``), now as its date, this machine; ``extra`` keys (data, runs, ...) as given."""
    import json
    import shlex
    from datetime import UTC, datetime

    out = {"format": "unisr-benchmark/1", "benchmark": benchmark, "title": title, "figure": figure, "goal": goal,
           "command": shlex.join([".venv/bin/python", script, *argv]),
           "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(threads),
           "tables": tables, "notes": notes, **extra}
    Path(path).write_text(json.dumps(out, indent=1) + "\n")
    return out
