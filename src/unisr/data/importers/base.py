"""What every importer shares: the report it returns, its error type, and vectorised text-file reading."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl


class ImportSourceError(FileNotFoundError):
    """The source folder lacks a file the importer needs, or a file is unusable as a whole (bad header)."""


@dataclass
class ImportReport:
    """Counts of one import. For every source file: ``read == written + rejected`` (see ``balanced``).

    ``read``: data rows read per source file; ``written``: rows written per source file (to the canonical
    table named in ``tables``); ``rejected``: rows sent to ``rejected.parquet`` per source file, and
    ``reasons``: rejected rows per reason.
    """

    format: str
    src: Path
    out: Path
    variant: str = ""
    tables: dict[str, str] = field(default_factory=dict)  # source file -> canonical table
    read: dict[str, int] = field(default_factory=dict)
    written: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def balanced(self) -> bool:
        return all(self.read[s] == self.written.get(s, 0) + self.rejected.get(s, 0) for s in self.read)

    @property
    def total_rejected(self) -> int:
        return sum(self.rejected.values())


def read_text(path: Path) -> str:
    """Decode a text file: UTF-8 when it is valid UTF-8, else latin-1 (GroupLens files are latin-1)."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def read_lines(path: Path, skip_header: bool = False) -> tuple[pl.DataFrame, str | None]:
    """Non-blank lines of a text file as a frame ``(line_no: 1-based line number, raw: str)``, plus the header.

    Handles LF and CRLF endings. Blank lines are not rows and are dropped.
    """
    if not path.exists():
        raise ImportSourceError(f"{path}: no such file")
    lines = read_text(path).splitlines()
    header = None
    start = 0
    if skip_header:
        if not lines:
            raise ImportSourceError(f"{path}: empty file, expected a header line")
        header, start = lines[0], 1
    df = pl.DataFrame({"raw": pl.Series(lines[start:], dtype=pl.String)}).with_columns(
        line_no=pl.int_range(start + 1, start + 1 + pl.len(), dtype=pl.Int64)
    )
    df = df.filter(pl.col("raw").str.strip_chars().str.len_chars() > 0).select("line_no", "raw")
    return df, header


def split_fields(df: pl.DataFrame, sep: str, names: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split ``raw`` by the literal ``sep`` into ``names``; returns (parsed rows, rows with a wrong field count)."""
    parts = pl.col("raw").str.split(sep)
    df = df.with_columns(_parts=parts)
    ok = pl.col("_parts").list.len() == len(names)
    good = df.filter(ok).with_columns(
        [pl.col("_parts").list.get(i).str.strip_chars().alias(n) for i, n in enumerate(names)]
    ).drop("_parts")
    bad = df.filter(~ok).drop("_parts")
    return good, bad
