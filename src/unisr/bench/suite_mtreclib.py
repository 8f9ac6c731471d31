"""Suite ``mtreclib-aliexpress``: MTReclib's AliExpress protocol (Zhu et al., github.com/easezyc/
Multitask-Recommendation-Library, ``main.py``; README results table), CTR and CTCVR AUC per country, for users who
bring the data: ``unisr benchmark --suite mtreclib-aliexpress --data DIR`` with DIR holding MTReclib's
``AliExpress_NL/``, ``AliExpress_ES/``, ``AliExpress_FR/``, ``AliExpress_US/`` (``train.csv``, ``test.csv``) or a
canonical dataset imported from them (``unisr data import aliexpress``).

MTReclib trains one model per country; so does this suite: each country (a scenario of the imported dataset) is
cut out (``bench/published.py:subset_scenarios``) and every row trains on it alone. Declared as data like the
Scenario-Wise Rec suites (the protocol, the rows with MTReclib's sizes, the published numbers of its README for the
models we have rows for); the row selection, the cells and the import are ``bench/published.py``'s.

**Not comparable yet**: the AliExpress layout has no user or item identity (``docs/DATASETS.md``: each search id
stands for its user, every impression points at one placeholder item) and our encoder does not read the events'
own feature columns (categorical_1..16, numerical_1..63), which are MTReclib's whole input; until the encoder
reads event-level fields the models here score with almost nothing. The suite runs end to end (tested on the
samples in ``../shared/data``), its numbers are not the models' on this data.

Shapes:
    (no tensors) AliExpress download -> report table of test CTR / CTCVR AUC per model and country
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from unisr.bench import published
from unisr.bench.matrix import Override, RunSpec, run_matrix, suite_options
from unisr.bench.registry import SuiteError, suite
from unisr.bench.report import Report, ReportTable
from unisr.evaluate.stats import mean_std

# main.py: Adam lr 1e-3, weight decay 1e-6, batch 2048, embedding 128, 50 epochs, EarlyStopper(num_trials=2) on
# the mean of the task AUCs (of the test set there; of the validation rows here: every 10th train row), BCE per
# task averaged (loss /= task_num)
PROTOCOL = (
    Override("train.optimizer", "adam"), Override("train.lr", 0.001), Override("train.weight_decay", "0.000001"),
    Override("data.batch_size", 2048), Override("data.embed_dim", 128), Override("train.epochs", 50),
    Override("train.patience", 2), Override("model.sparse_grad", False),
)
_TWO_TASKS = (Override("train.losses", "{click: 0.5, ctcvr: 0.5}"), Override("train.monitor", "auc+ctcvr_auc"))
# MTReclib's get_model sizes: bottom (512, 256), towers (128, 64), dropout 0.2, expert_num 8. Our SharedBottom, MMoE
# and PLE are multi-scenario models with one label (click): on one country they are one tower / one gate, CTR
# only. MTReclib's PLE stacks two one-layer CGC levels (512, 256); ours one level of experts [512, 256].
ROWS = [
    RunSpec("shared_bottom", "shared_bottom", (Override("model.bottom", [512, 256]), Override("model.tower", [128, 64]),
                                               Override("model.dropout", 0.2))),
    RunSpec("mmoe", "mmoe", (Override("model.num_experts", 8), Override("model.expert", [512, 256]),
                             Override("model.tower", [128, 64]), Override("model.dropout", 0.2))),
    RunSpec("ple", "ple", (Override("model.num_shared", 4), Override("model.num_specific", 4),
                           Override("model.expert", [512, 256]), Override("model.tower", [128, 64]),
                           Override("model.dropout", 0.2))),
    # M3oE predicts both tasks (task experts, a gate and a tower per task); no published AliExpress number
    RunSpec("m3oe", "m3oe", (Override("model.tasks", ["click", "ctcvr"]), *_TWO_TASKS)),
]
DEFAULT = [r.name for r in ROWS]
# MTReclib README, mean of five runs: country -> model -> (CTR AUC, CTCVR AUC) (the shared data README quotes
# MMoE US 0.7043 / 0.8758)
PUBLISHED = {
    "NL": {"shared_bottom": (0.7228, 0.8511), "mmoe": (0.7234, 0.8606), "ple": (0.7292, 0.8591)},
    "ES": {"shared_bottom": (0.7287, 0.8866), "mmoe": (0.7285, 0.8898), "ple": (0.7273, 0.8913)},
    "FR": {"shared_bottom": (0.7245, 0.8700), "mmoe": (0.7216, 0.8811), "ple": (0.7276, 0.8805)},
    "US": {"shared_bottom": (0.7029, 0.8698), "mmoe": (0.7043, 0.8758), "ple": (0.7138, 0.8675)},
}
INTRO = ("One model per country (MTReclib); labels click and ctcvr = click x conversion; Adam lr 1e-3, weight decay "
         "1e-6, batch 2048, embedding 128, early stopping on validation (patience 2). Published: MTReclib README. "
         "Not comparable yet: our encoder does not read the events' feature columns, MTReclib's whole input "
         "(docs/DATASETS.md).")


def _country(name: str) -> str:
    return name.split("=", 1)[1] if "=" in name else name


def summarise(by_country: dict[str, list[dict]]) -> tuple[list[list[str]], dict]:
    """The table's rows (model, country, CTR / CTCVR AUC beside the published ones) and a per-(row, country)
    summary; a model without a CTCVR output says so."""
    rows, summary = [], {}
    for country, runs in by_country.items():
        for name, rs in published.by_row(runs).items():
            ctr = [r["overall"]["auc"] for r in rs]
            cvr = [r["overall"]["ctcvr_auc"] for r in rs if "ctcvr_auc" in r["overall"]]
            pub = PUBLISHED.get(country, {}).get(name)
            d_ctr = f"{mean_std(ctr)[0] - pub[0]:+.4f}" if pub else "n/a"
            d_cvr = f"{mean_std(cvr)[0] - pub[1]:+.4f}" if pub and cvr else "n/a"
            rows.append([published.row_label(name, rs), country, published.cell(ctr),
                         published.cell(cvr) if cvr else "n/a (click only)",
                         f"{pub[0]:.4f}" if pub else "-", f"{pub[1]:.4f}" if pub else "-", d_ctr, d_cvr])
            summary[f"{name}@{country}"] = {"ctr_auc": ctr, "ctcvr_auc": cvr, "published": pub,
                                            "seeds": [r.get("run_seed") for r in rs]}
    return rows, summary


@suite("mtreclib-aliexpress")
def mtreclib_aliexpress(out: Path, data: Path | None, seeds: int, sets: list[str], models: list[str] | None,
                        console: Console) -> dict:
    """CTR and CTCVR AUC per AliExpress country (one model per country) against MTReclib's table."""
    out = Path(out)
    opts, rest = suite_options(sets, {"countries": None})
    full = published.imported("aliexpress", data, out, console,
                              what="AliExpress (MTReclib's AliExpress_<country>/train.csv, test.csv)")
    from unisr.data.schema import DatasetSpec

    names = [s.name for s in DatasetSpec.load(full).scenarios]
    wanted = opts["countries"]
    if wanted is not None:
        wanted = [str(c) for c in (wanted if isinstance(wanted, list) else [wanted])]
        missing = sorted(set(wanted) - {_country(n) for n in names})
        if missing:
            raise SuiteError(f"suite.countries: {missing} not in the data ({', '.join(map(_country, names))})")
        names = [n for n in names if _country(n) in wanted]
    rows = published.select_rows(ROWS, DEFAULT, models, opts["rows_only"])
    by_country: dict[str, list[dict]] = {}
    for name in names:
        code = _country(name)
        sub = published.subset_scenarios(full, lambda n, name=name: n == name, out / f"data-{code}")
        record = f"{opts['record']}/{code}" if opts["record"] else None
        runs = run_matrix(rows, sub, out / code, seeds, [*PROTOCOL, Override("train.progress", False), *rest],
                          console, train_missing=bool(opts["train"]), record=record, seeds_only=opts["seeds_only"],
                          rows_only=opts["rows_only"])
        if runs:
            by_country[code] = runs
    if not by_country:
        raise SuiteError(f"{out}: no finished runs to report (suite.train=false?)")
    table_rows, summary = summarise(by_country)
    table = ReportTable(
        f"AliExpress, MTReclib protocol (one model per country), test split, mean ± std over {seeds} seeds",
        ["model", "country", "CTR AUC", "CTCVR AUC", "published CTR AUC", "published CTCVR AUC", "Δ CTR",
         "Δ CTCVR"], table_rows)
    report = Report("mtreclib-aliexpress: multi-task baselines per AliExpress country", INTRO, [table], [])
    results = {"suite": "mtreclib-aliexpress", "seeds": seeds, "runs": by_country, "summary": summary}
    report.write(out, results)
    console.print(table.markdown())
    return results
