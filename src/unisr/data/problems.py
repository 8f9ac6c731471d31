"""Problems found in a dataset, located by file, column and row, and the capped collector that gathers them.

Shapes:
    ProblemReport.finish() -> list[Problem] (at most ``cap`` rows per rule, then one "... and N more" line)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

MAX_ROWS_PER_RULE = 20


@dataclass(frozen=True)
class Problem:
    """One defect of a dataset, located as precisely as possible.

    ``file``: path relative to the dataset folder (a part: ``events.parquet/part-0.parquet``); ``column``: the
    column (for ``dataset.yaml``: the dotted field path, e.g. ``scenarios.0.kind``); ``row``: the 0-based row
    index within ``file`` (across its row groups), None where the problem is not about one row.
    """

    file: str
    column: str | None
    row: int | None
    message: str

    def __str__(self) -> str:
        loc = []
        if self.column is not None:  # in dataset.yaml the "column" is the path of a field
            loc.append(f"{'field' if self.file.endswith('.yaml') else 'column'} {self.column}")
        if self.row is not None:
            loc.append(f"row {self.row}")
        where = f"{self.file}: {', '.join(loc)}" if loc else self.file
        return f"{where}: {self.message}"


@dataclass
class ProblemReport:
    """Collects problems; row-level rules list at most ``cap`` rows each, then one "... and N more" line."""

    cap: int = MAX_ROWS_PER_RULE
    problems: list[Problem] = field(default_factory=list)
    _listed: dict[tuple[str, str | None, str], int] = field(default_factory=dict)
    _more: dict[tuple[str, str | None, str], int] = field(default_factory=dict)

    def add(self, file: str, column: str | None, message: str, row: int | None = None) -> None:
        self.problems.append(Problem(file, column, row, message))

    def room(self, file: str, column: str | None, rule: str) -> int:
        """How many more rows of this rule may still be listed."""
        return self.cap - self._listed.get((file, column, rule), 0)

    def add_rows(
        self, file: str, column: str | None, rule: str, rows: Sequence[int], messages: Sequence[str], total: int
    ) -> None:
        """List ``rows`` (already truncated to ``room``) and count the remaining ``total - len(rows)``."""
        key = (file, column, rule)
        for r, m in zip(rows, messages, strict=True):
            self.problems.append(Problem(file, column, int(r), m))
        self._listed[key] = self._listed.get(key, 0) + len(rows)
        if total > len(rows):
            self._more[key] = self._more.get(key, 0) + total - len(rows)

    def finish(self) -> list[Problem]:
        out = list(self.problems)
        for (file, column, rule), n in self._more.items():
            out.append(Problem(file, column, None, f"... and {n} more rows: {rule}"))
        return out
