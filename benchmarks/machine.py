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
