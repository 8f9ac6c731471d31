"""Suite reports: ``results.json``, ``report.md`` and ``report.html`` (tables + embedded PNG plots).

Shapes:
    (no tensors) tables, figures, claims -> files in the suite's out folder
"""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass, field
from pathlib import Path

from unisr.evaluate.stats import mean_std


@dataclass
class ReportTable:
    title: str
    header: list[str]
    rows: list[list[str]]
    note: str = ""

    def markdown(self) -> str:
        lines = [f"### {self.title}", ""]
        if self.note:
            lines += [self.note, ""]
        lines.append("| " + " | ".join(self.header) + " |")
        lines.append("|" + "---|" * len(self.header))
        lines += ["| " + " | ".join(r) + " |" for r in self.rows]
        return "\n".join(lines) + "\n"

    def html(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.header)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in self.rows)
        note = f"<p>{html.escape(self.note)}</p>" if self.note else ""
        return f"<h3>{html.escape(self.title)}</h3>{note}<table><tr>{head}</tr>{body}</table>"


@dataclass
class Report:
    title: str
    intro: str = ""
    tables: list[ReportTable] = field(default_factory=list)
    figures: list[tuple[str, Path]] = field(default_factory=list)
    claims: list[str] = field(default_factory=list)

    def write(self, out: Path, results: dict) -> None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.json").write_text(json.dumps(results, indent=1, default=float))
        md = [f"# {self.title}", "", self.intro, ""]
        if self.claims:
            md += ["## Claims", ""] + [f"- {c}" for c in self.claims] + [""]
        md += [t.markdown() for t in self.tables]
        for caption, path in self.figures:
            md.append(f"![{caption}]({path.name})\n")
        (out / "report.md").write_text("\n".join(md))
        figs = ""
        for caption, path in self.figures:
            b64 = base64.b64encode(path.read_bytes()).decode()
            figs += f"<figure><img src='data:image/png;base64,{b64}'/><figcaption>{html.escape(caption)}</figcaption></figure>"
        claims = "".join(f"<li>{html.escape(c)}</li>" for c in self.claims)
        page = (
            "<!doctype html><html><head><meta charset='utf-8'><title>" + html.escape(self.title) + "</title>"
            "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse;"
            "margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}img{max-width:100%}</style>"
            f"</head><body><h1>{html.escape(self.title)}</h1><p>{html.escape(self.intro)}</p>"
            + (f"<h2>Claims</h2><ul>{claims}</ul>" if claims else "")
            + "".join(t.html() for t in self.tables) + figs + "</body></html>"
        )
        (out / "report.html").write_text(page)


def claim_report(out: Path, suite: str, seeds: int, data: Path, runs: list[dict], lines: list[list[str]],
                 budget: str, report: Report, claims_title: str, console=None) -> dict:  # noqa: ANN001
    """A claim suite's report: the training-budget line first, then ``lines`` (claim, verdict, numbers) as the
    last table of ``report`` (titled ``claims_title``); writes ``results.json`` (the runs and every claim line)
    and the report files, and prints the tables to ``console`` (a rich Console). Returns the results."""
    lines.insert(0, ["(training budget)", "n/a", budget])
    report.tables.append(ReportTable(claims_title, ["claim", "verdict", "numbers"], lines))
    results = {"suite": suite, "seeds": seeds, "data": str(data), "runs": runs,
               "claims": [{"claim": c, "verdict": v, "numbers": n} for c, v, n in lines]}
    report.write(out, results)
    for t in report.tables if console is not None else ():
        console.print(t.markdown())
    return results


def fmt(values: list[float], digits: int = 4, n: int | None = None) -> str:
    """mean ± std; with ``n`` (the seeds a suite asked for), a row with fewer values says how many it has."""
    m, s = mean_std(values)
    return f"{m:.{digits}f} ± {s:.{digits}f}" + (f" (n={len(values)})" if n is not None and len(values) < n else "")
