"""Suite ``treems``: its rows and claim rules (the suite itself runs in benchmarks; leaves: test_share_data.py)."""

import pytest

from synth import make_dataset
from unisr.bench.registry import SUITES, SuiteError, load_builtin_suites
from unisr.bench.suite_treems import NO_EARLY_STOP, TABLE2_ROWS
from unisr.bench.verdicts import clearly_greater


def test_suite_is_registered_and_checks_its_rows(tmp_path):
    load_builtin_suites()
    assert "treems" in SUITES
    assert {r.model for r in TABLE2_ROWS} >= {"share_dnn", "cune", "diffnet", "pinsage", "social_gat",
                                               "multi_scenario", "share_mmoe", "scenario_meta", "treems"}
    root = make_dataset(tmp_path / "d", n_events=200)
    with pytest.raises(SuiteError, match="no share scenarios"):
        SUITES["treems"](out=tmp_path / "o", data=root, seeds=1, sets=[], models=None, console=None)


def test_one_seed_claims_need_a_visible_margin_and_runs_use_the_whole_budget():
    # TreeMS with / without L_aux differed by 4e-5 AUC (0.7275 vs 0.7275): that is no evidence either way
    assert not clearly_greater(0.72753, 0.72749)
    assert not clearly_greater(1.0, 1.0)
    assert clearly_greater(0.7300, 0.7275)
    assert not clearly_greater(0.7275, 0.7300)
    assert NO_EARLY_STOP.text().startswith("train.patience=") and int(NO_EARLY_STOP.text().split("=")[1]) >= 100


def test_view_switch_rows_ablate_the_neighbours_only():
    """Issue 33: a view row drops that view from the sampled, attended and concatenated views; t's pair history
    (its own ``pair_views``, directed) is the same as the full TreeMS row's."""
    from share_synth import share_schema
    from unisr.bench.suite_treems import SWITCH_ROWS
    from unisr.models.registry import MODELS, load_builtin_models

    load_builtin_models()
    info = MODELS["treems"]
    full = info.config()
    rows = [r for r in SWITCH_ROWS if any(o.key == "model.views" for o in r.overrides)]
    assert len(rows) == 3
    for r in rows:
        cfg = info.config.model_validate({o.key.split(".", 1)[1]: list(o.value) for o in r.overrides})
        assert len(cfg.views) == len(full.views) - 1
        assert cfg.pair_views == full.pair_views and cfg.pair_mode == "directed" and cfg.pair_features
        net, ref = (info.cls.from_config(share_schema(), c) for c in (cfg, full))
        assert net.input.t_dim == ref.input.t_dim and len(net.gat) == len(ref.gat) - 1
