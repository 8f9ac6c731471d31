"""Tests of ``unisr.bench.report``: a suite's results.json, report.md and report.html, and mean ± std cells."""

from __future__ import annotations

import json

from unisr.bench.plots import bar_plot
from unisr.bench.report import Report, ReportTable, fmt


def test_fmt_says_how_many_seeds_a_short_row_has():
    assert fmt([0.6, 0.62]) == "0.6100 ± 0.0141"
    assert fmt([0.6, 0.62], n=3) == "0.6100 ± 0.0141 (n=2)" and fmt([0.6, 0.62, 0.61], n=3).endswith("0.0100")
    assert fmt([0.5], digits=2) == "0.50 ± 0.00"


def test_report_writes_tables_claims_and_figures(tmp_path):
    fig = bar_plot(tmp_path / "f.png", ["a"], {"m": [(0.6, 0.0)]}, "AUC", "t")
    t = ReportTable("T", ["model", "AUC"], [["m", "0.6000"]], "note <b>")
    Report("title", "intro", [t], [("caption", fig)], ["claim: holds"]).write(tmp_path, {"x": 1.5})
    assert json.loads((tmp_path / "results.json").read_text()) == {"x": 1.5}
    md = (tmp_path / "report.md").read_text()
    assert md.startswith("# title\n\nintro\n\n## Claims\n\n- claim: holds\n")
    assert "### T\n\nnote <b>\n\n| model | AUC |\n|---|---|\n| m | 0.6000 |\n" in md and "![caption](f.png)" in md
    page = (tmp_path / "report.html").read_text()
    assert "note &lt;b&gt;" in page and "data:image/png;base64," in page and "<li>claim: holds</li>" in page
