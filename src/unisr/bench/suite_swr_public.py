"""Suites ``swr-aliccp`` and ``swr-kuairand``: Scenario-Wise Rec's Ali-CCP and KuaiRand-1K protocols (Li et al.,
2024, arXiv 2412.17374; ``scripts/run_ali_ccp_ctr_ranking_multi_domain.py``, ``run_kuairand_ctr_multi_domain.py``)
for users who bring the full data: ``unisr benchmark --suite swr-aliccp --data DIR`` with DIR the download (or a
canonical dataset imported from it).

Declared as data like ``swr-movielens`` (``bench/published.py:TableSuite``; the run, the table against the
published numbers and the report are that module's, written once): the protocol, the rows with Scenario-Wise
Rec's per-dataset model sizes, the published overall AUCs (``../shared/data/README.md``). The samples in
``../shared/data`` run these suites end to end (tests), not for metrics (one scenario, 100-200 rows).

What differs from Scenario-Wise Rec's inputs: our encoder reads user and item columns, not the events' own
feature columns (docs/DATASETS.md), so on Ali-CCP the models see user 101 + its 8 profile fields, item 205 + its
4 fields, not the other event-level fields (508, 509, 702, 853, the dense D* sums) Scenario-Wise Rec embeds.

Shapes:
    (no tensors) Ali-CCP / KuaiRand download -> report tables of test AUC per model and scenario
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from unisr.bench import published
from unisr.bench.matrix import Override, RunSpec
from unisr.bench.registry import suite

# Scenario-Wise Rec's CTRTrainer, as on MovieLens (docs: suite_swr.SWR_PROTOCOL): one dense Adam over all
# parameters, lr 1e-3, weight decay 1e-5, batch 4096, no lr schedule (scheduler_params without scheduler_fn),
# early stopping on validation AUC; the patience is the script's; the epoch budget is not published: 50.
_COMMON = (
    Override("train.optimizer", "adam"), Override("train.lr", 0.001), Override("train.weight_decay", "0.00001"),
    Override("data.batch_size", 4096), Override("train.epochs", 50), Override("train.monitor", "auc"),
    Override("model.sparse_grad", False),
)


def _rows(sizes: dict[str, dict]) -> list[RunSpec]:
    """One row per model with the script's sizes as overrides."""
    return [RunSpec(m, m, tuple(Override(f"model.{k}", v) for k, v in kw.items())) for m, kw in sizes.items()]


# ---------------------------------------------------------------------------------------------------- Ali-CCP
# run_ali_ccp_ctr_ranking_multi_domain.py: the official train / val / test files (torch-rechub layout), scenario =
# field 301 (1, 2, 3 -> 0, 1, 2), label click, embedding 16, earlystop_patience=5
ALICCP_SIZES = {
    "shared_bottom": {"bottom": [512], "tower": [256, 128, 64, 32, 16, 8]},
    "mmoe": {"num_experts": 3, "expert": [256, 128, 64, 32, 16, 8], "tower": [16]},
    "ple": {"num_levels": 1, "num_specific": 2, "num_shared": 1, "expert": [256, 128, 64, 32, 16, 8],
            "tower": [16]},
    "star": {"fcn": [256, 128, 64, 32, 16, 8], "aux": [16]},
    "m2m": {"num_experts": 4, "expert_dim": 16},  # M2M(..., num_experts=4, expert_output_size=16), other defaults
    "m3oe": {"fcn": [512, 256, 256, 64], "num_experts": 4},  # no published number (HamurLarge: not built here)
}
ALICCP_PUBLISHED = {  # overall AUC, ../shared/data/README.md
    "shared_bottom": {"auc": 0.6232}, "mmoe": {"auc": 0.6242}, "ple": {"auc": 0.6250}, "star": {"auc": 0.6253},
    "m2m": {"auc": 0.6257},
}
ALICCP = published.TableSuite(
    name="swr-aliccp", title="swr-aliccp: multi-scenario baselines on Ali-CCP", dataset="Ali-CCP",
    intro="Scenarios = field 301 (3); label click; the official train / validation / test files (torch-rechub / "
          "Scenario-Wise Rec layout); one dense Adam, lr 1e-3, weight decay 1e-5, batch 4096, early stopping on "
          "validation AUC (patience 5). Our models read the user and item fields, not the events' own fields "
          "(docs/DATASETS.md). Published: Scenario-Wise Rec (arXiv 2412.17374), overall AUC only.",
    protocol=(*_COMMON, Override("train.patience", 5)), rows=_rows(ALICCP_SIZES), default=list(ALICCP_PUBLISHED),
    published=ALICCP_PUBLISHED,
    provision=lambda data, out, console: published.imported(
        "aliccp", data, out, console, what="Ali-CCP (ali_ccp_{train,val,test}.csv of torch-rechub / Scenario-Wise "
                                          "Rec, or the Tianchi skeleton + common-features files)"),
    unpublished={"m3oe": "m3oe: Scenario-Wise Rec ships M3oE but publishes no Ali-CCP number for it"})

# --------------------------------------------------------------------------------------------------- KuaiRand
# run_kuairand_ctr_multi_domain.py: the joined KuaiRand-1K log, tabs {0, 1, 2, 4, 6} only, random 8:1:1,
# label is_click, embedding 16, earlystop_patience=4
KUAIRAND_TABS = {"tab=0", "tab=1", "tab=2", "tab=4", "tab=6"}
KUAIRAND_SIZES = {
    "shared_bottom": {"bottom": [128], "tower": [64, 32]},
    "mmoe": {"num_experts": 5, "expert": [32], "tower": [16]},  # n_expert = domain_num (5 tabs)
    "ple": {"num_levels": 1, "num_specific": 2, "num_shared": 1, "expert": [64, 32], "tower": [16]},
    "star": {"fcn": [128, 64, 32], "aux": [32]},
    "m2m": {},  # the MovieLens settings (our defaults)
    "hamur": {},  # HamurSmall(fcn_dims=[256, 128], hyper_dims=[64], k=35): our defaults
    "m3oe": {},  # fcn_dims=[128, 64, 64, 32], expert_num=4: our defaults
}
KUAIRAND_PUBLISHED = {"shared_bottom": {"auc": 0.7793}, "star": {"auc": 0.7806}, "m2m": {"auc": 0.7821}}


def _kuairand(data: Path | None, out: Path, console: Console) -> Path:
    full = published.imported("kuairand", data, out, console,
                              what="KuaiRand-1K (Scenario-Wise Rec's joined kuairand_1k.csv)")
    return published.subset_scenarios(full, lambda name: name in KUAIRAND_TABS, out / "data-tabs")


KUAIRAND = published.TableSuite(
    name="swr-kuairand", title="swr-kuairand: multi-scenario baselines on KuaiRand-1K", dataset="KuaiRand-1K",
    intro="Scenarios = tabs 0, 1, 2, 4, 6 (the other tabs' events dropped, as Scenario-Wise Rec does); label "
          "is_click; random 8:1:1 split (seed 2022); one dense Adam, lr 1e-3, weight decay 1e-5, batch 4096, "
          "early stopping on validation AUC (patience 4). Published: Scenario-Wise Rec (arXiv 2412.17374), overall "
          "AUC only.",
    protocol=(*_COMMON, Override("train.patience", 4)), rows=_rows(KUAIRAND_SIZES),
    default=list(KUAIRAND_PUBLISHED), published=KUAIRAND_PUBLISHED, provision=_kuairand,
    unpublished={m: f"{m}: no published KuaiRand number in ../shared/data/README.md"
                 for m in KUAIRAND_SIZES if m not in KUAIRAND_PUBLISHED})


@suite("swr-aliccp")
def swr_aliccp(out: Path, data: Path | None, seeds: int, sets: list[str], models: list[str] | None,
               console: Console) -> dict:
    """Multi-scenario baselines on Ali-CCP (scenario = field 301) against Scenario-Wise Rec's table."""
    return published.run_table_suite(ALICCP, out, data, seeds, sets, models, console)


@suite("swr-kuairand")
def swr_kuairand(out: Path, data: Path | None, seeds: int, sets: list[str], models: list[str] | None,
                 console: Console) -> dict:
    """Multi-scenario baselines on KuaiRand-1K (tabs 0, 1, 2, 4, 6) against Scenario-Wise Rec's table."""
    return published.run_table_suite(KUAIRAND, out, data, seeds, sets, models, console)
