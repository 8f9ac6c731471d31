"""Tests of ``unisr.bench.provision``: the dataset a suite needs, or an error saying what to do."""

from __future__ import annotations

import pytest
from rich.console import Console

from synth import make_dataset
from unisr.bench.provision import ensure_movielens, ensure_share_data, ensure_simulated, require_scenarios
from unisr.bench.registry import SuiteError


def test_given_datasets_are_checked(tmp_path):
    root = make_dataset(tmp_path / "d", n_events=200)
    quiet = Console(quiet=True)
    assert ensure_simulated(root, tmp_path / "o", "small", quiet) == root
    assert ensure_movielens(root, tmp_path / "o", quiet) == root  # already canonical: used as it is
    with pytest.raises(SuiteError, match="no dataset.yaml"):
        ensure_simulated(tmp_path, tmp_path / "o", "small", quiet)
    with pytest.raises(SuiteError, match="MovieLens-1M not found"):
        ensure_movielens(tmp_path / "nowhere", tmp_path / "o", quiet)
    with pytest.raises(SuiteError, match="no share scenarios"):
        ensure_share_data(root, tmp_path / "o", quiet)


def test_require_scenarios_names_what_is_missing(tmp_path):
    root = make_dataset(tmp_path / "d", n_events=200)
    with pytest.raises(SuiteError, match="needs --data DIR"):
        require_scenarios(None, ("search_text", "feed_main"), "usr")
    with pytest.raises(SuiteError, match=r"needs scenarios 'search_text' and 'feed_main'.*scen0"):
        require_scenarios(root, ("search_text", "feed_main"), "usr")
    assert require_scenarios(root, ("scen0",), "x") == root
