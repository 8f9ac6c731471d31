"""The after-the-fact scorer (simulate/truth_scores.py): the world rebuilt from dataset.yaml reproduces
truth.parquet on shown impressions of every item scenario (v1 one chunk; v2 streamed in chunks with the
cross_overlap re-finding bonus), its corpus path agrees with the simulator's own code, and a dataset it cannot
rebuild is refused with the file named."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from unisr.simulate import resolve_config, simulate_config
from unisr.simulate.truth_scores import SimTruth, TruthError, check_truth

ITEM_SCENARIOS = {"search_text", "search_visual", "search_similar", "feed_main", "feed_guess", "feed_deals",
                  "feed_new", "feed_niche"}


@pytest.fixture(scope="module")
def tiny_v2_chunked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("truth") / "tiny_v2"
    simulate_config(resolve_config("tiny", ["version=2", "chunk_users=700"]), out, 0, "tiny", None, 1)
    return out


def _assert_exact(check: dict) -> None:
    assert set(check) == ITEM_SCENARIOS  # every item scenario sampled
    for name, r in check.items():
        assert r["n"] > 0, name
        assert r["max_abs_p_click"] <= 2e-7, (name, r)  # at the real position
        assert r["max_abs_p_click_no_position"] <= 2e-7, (name, r)
        assert r["max_abs_corpus_vs_simulator"] <= 2e-6, (name, r)  # matrix products vs the simulator's einsum


def test_shown_impressions_reproduce_truth_v1(tiny_dir: Path):
    _assert_exact(check_truth(SimTruth(tiny_dir), per_scenario=1500))


def test_shown_impressions_reproduce_truth_v2_chunked(tiny_v2_chunked: Path):
    truth = SimTruth(tiny_v2_chunked)
    assert truth.cfg.version == 2 and truth.cfg.chunk_users == 700
    assert len(np.unique(truth.ev["session_id"] >> 36)) >= 3  # sessions of several chunks
    _assert_exact(check_truth(truth, per_scenario=1500))


def test_intent_and_refind_page_are_reproduced_not_ignored(tiny_v2_chunked: Path):
    """The two hidden per-request terms change p_click: scoring with a wrong intent, or without the session's
    other-kind page, moves the probabilities away from truth.parquet."""
    import pyarrow.parquet as pq

    truth = SimTruth(tiny_v2_chunked)
    ev = truth.ev
    rows = np.flatnonzero(np.isin(ev["scenario_id"], [0, 10]))[:4000]
    ctx = truth.event_contexts(ev["event_id"][rows])
    item = truth.items_of(ev["item_id"][rows])[:, None]
    pos = ev["position"][rows][:, None]
    t = pq.read_table(tiny_v2_chunked / "truth.parquet")
    tid = t["event_id"].to_numpy()
    p_true = t["p_click"].to_numpy()[np.argsort(tid)][np.searchsorted(np.sort(tid), ev["event_id"][rows])]
    p = truth.scores(ctx, item, pos)[:, 0].astype(np.float32)
    assert np.abs(p - p_true).max() <= 2e-7
    seen = (ctx.page == item).any(1)
    assert seen.sum() > 10  # the re-finding bonus occurs in this sample
    no_page = truth.scores(dataclasses.replace(ctx, page=None), item, pos)
    assert np.abs(no_page[seen, 0] - p_true[seen]).min() > 1e-4
    wrong = dataclasses.replace(ctx, intent=np.roll(ctx.intent, len(rows) // 2))  # other sessions' intents
    assert np.median(np.abs(truth.scores(wrong, item, pos)[:, 0] - p_true)) > 1e-4


def test_corpus_scores_shape_and_range(tiny_dir: Path):
    truth = SimTruth(tiny_dir)
    ev = truth.ev
    ids = ev["event_id"][ev["scenario_id"] < 100][:50]
    items = np.arange(truth.world.cat.n)
    s = truth.entity_scorer(truth.world.cat.ext_id[items])(ids)
    assert s.shape == (50, truth.world.cat.n) and (s > 0).all() and (s < 1).all()


def test_refuses_data_it_cannot_rebuild(tiny_dir: Path, tmp_path: Path, tiny_dataset: Path):
    with pytest.raises(TruthError, match="dataset.yaml: no simulator"):
        SimTruth(tiny_dataset)
    other = tmp_path / "other_seed"
    other.mkdir()
    shutil.copytree(tiny_dir / "latent", other / "latent")
    spec = yaml.safe_load((tiny_dir / "dataset.yaml").read_text())
    spec["simulator"]["seed"] = 1
    (other / "dataset.yaml").write_text(yaml.safe_dump(spec))
    with pytest.raises(TruthError, match="items_latent.parquet"):
        SimTruth(other, events=False)
    truth = SimTruth(tiny_dir)
    with pytest.raises(TruthError, match="event_id 999999999 not found"):
        truth.event_contexts(np.array([999999999]))
    share = truth.ev["event_id"][truth.ev["scenario_id"] >= 100][:1]
    with pytest.raises(TruthError, match="share panel"):
        truth.event_contexts(share)


@pytest.mark.parametrize("version", [1, 2])
def test_expected_clicks_match_the_written_exposure(tiny_dir: Path, tiny_v2_chunked: Path, version: int):
    """E[clicks | request] summed over the corpus is, per scenario, the mean over requests of the truth
    probabilities of what was shown (the same expectation without the click draws); and the items a request
    showed get a higher expected click than the corpus' others."""
    import pyarrow.parquet as pq

    root = tiny_dir if version == 1 else tiny_v2_chunked
    truth = SimTruth(root)
    ev = truth.ev
    t = pq.read_table(root / "truth.parquet")
    tid = t["event_id"].to_numpy()
    p = t["p_click"].to_numpy()[np.argsort(tid)].astype(np.float64)  # truth in event_id order, like ev
    items = np.arange(truth.world.cat.n)
    rng = np.random.default_rng(1)
    for s in (0, 1, 2, 10, 12):
        m = np.flatnonzero(ev["scenario_id"] == s)
        req, first = np.unique(ev["request_id"][m], return_index=True)
        pick = np.sort(rng.choice(len(req), min(400, len(req)), replace=False))
        ctx = truth.event_contexts(ev["event_id"][m[first[pick]]])
        e = truth.expected_clicks(ctx, items, draws=32)
        shown = np.isin(ev["request_id"][m], req[pick])
        written = p[m[shown]].sum() / len(pick)
        assert e.sum(1).mean() == pytest.approx(written, rel=0.1), s
        r = np.searchsorted(req[pick], ev["request_id"][m[shown]])  # each shown impression's row
        on_page = e[r, truth.items_of(ev["item_id"][m[shown]])]
        assert on_page.mean() > 20 * e.mean(), s
