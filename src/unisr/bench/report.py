"""Suite reports: ``results.json``, ``report.md`` and ``report.html`` (tables + embedded PNG plots)."""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from unisr.evaluate.stats import mean_std, paired_ttest  # noqa: E402


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


def bar_plot(path: Path, groups: list[str], series: dict[str, list[tuple[float, float]]], ylabel: str,
             title: str, ylim: tuple[float, float] | None = None) -> Path:
    """Grouped bars: ``series[name][i]`` = (mean, std) for group i."""
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(groups) * max(1, len(series)) / 2), 4))
    n = max(len(series), 1)
    width = 0.8 / n
    for j, (name, vals) in enumerate(series.items()):
        xs = [i + (j - (n - 1) / 2) * width for i in range(len(groups))]
        ax.bar(xs, [v[0] for v in vals], width, yerr=[v[1] for v in vals], label=name, capsize=2)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(groups, rotation=20)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if ylim:
        ax.set_ylim(*ylim)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def fmt(values: list[float], digits: int = 4, n: int | None = None) -> str:
    """mean ± std; with ``n`` (the seeds a suite asked for), a row with fewer values says how many it has."""
    m, s = mean_std(values)
    return f"{m:.{digits}f} ± {s:.{digits}f}" + (f" (n={len(values)})" if n is not None and len(values) < n else "")


def ttest_str(a: list[float], b: list[float]) -> str:
    t, p = paired_ttest(a, b)
    return "n/a" if p != p else f"t={t:.2f}, p={p:.3g}"
