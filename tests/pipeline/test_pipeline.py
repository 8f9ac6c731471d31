"""The one batch pipeline: same batches as the loader (+ the model's sampler) with fixed sampling seeds,
reproducible epochs, and a clear error when the dataset lacks an input the model needs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from unisr.data.features import FeatureEncoder
from unisr.data.loader import EventLoader
from unisr.data.schema import DatasetSpec
from unisr.pipeline.pipeline import SEED_STRIDE, MissingInputError, Pipeline
from unisr.train.run import run_config


def _pipe(model: str, data: Path, sets: list[str]) -> Pipeline:
    cfg = run_config(model, data, sets=sets)
    enc = FeatureEncoder.fit(data, DatasetSpec.load(data), embed_dim=cfg.data.embed_dim,
                             embed_dims=cfg.data.embed_dims)
    return Pipeline.open(cfg, data, enc)


def _same(a, b) -> bool:
    return all(torch.equal(x.event_id, y.event_id) and torch.equal(x.sparse, y.sparse) for x, y in zip(a, b,
                                                                                                        strict=True))


def test_batches_are_the_loaders_and_reproducible(tmp_path: Path) -> None:
    from synth import make_dataset

    data = make_dataset(tmp_path / "d", n_events=3000)
    pipe = _pipe("dnn", data, ["data.batch_size=256", "train.seed=3"])
    assert pipe.sampler is None
    e1 = list(pipe.batches("train", 1, train=True))
    ref = list(EventLoader(pipe.ctx, "train", pipe.cfg.data, train=True, seed=3).epoch(1))
    assert len(e1) == len(ref) > 1 and _same(e1, ref)
    assert _same(e1, list(pipe.epochs("train")(1)))  # what the trainer iterates
    assert not _same(e1[:1], list(pipe.batches("train", 2, train=True))[:1])  # another epoch, another order
    test = list(pipe.batches("test"))
    assert _same(test, list(EventLoader(pipe.ctx, "test", pipe.cfg.data, train=False).epoch(0)))


class _Recorder:
    """A stand-in sampler that records the seeds it is reset with."""

    def __init__(self) -> None:
        self.seeds: list[int] = []

    def reset(self, seed: int) -> None:
        self.seeds.append(seed)

    def __call__(self, batch):
        return batch


def test_sampler_seeds_per_split_and_epoch(tmp_path: Path) -> None:
    from synth import make_dataset

    data = make_dataset(tmp_path / "d", n_events=2000)
    pipe = _pipe("dnn", data, ["train.seed=5"])
    pipe.sampler = rec = _Recorder()
    for split, epoch, train in (("train", 0, True), ("train", 3, True), ("valid", 0, False), ("test", 0, False)):
        next(iter(pipe.batches(split, epoch, train=train)))
    assert rec.seeds == [5 * SEED_STRIDE, 5 * SEED_STRIDE + 3, -1 * SEED_STRIDE, -2 * SEED_STRIDE]


def test_graph_model_gets_its_subgraph(sim_dir: Path, tmp_path: Path) -> None:
    pipe = _pipe("srjgraph", sim_dir, [f"data.graph_dir={tmp_path / 'g'}", "data.batch_size=64",
                                       "data.scenarios=[search_text,feed_main]"])
    assert pipe.sampler is not None
    b = next(iter(pipe.batches("valid")))
    assert b.subgraph  # filled by the model's sampler
    again = next(iter(pipe.batches("valid")))  # the same sampling seed every time for an evaluation split
    assert torch.equal(b.event_id, again.event_id)


def test_missing_input_names_the_model_and_the_input(tmp_path: Path) -> None:
    from synth import make_dataset

    data = make_dataset(tmp_path / "d", n_events=2000)  # no social table
    with pytest.raises(MissingInputError, match=r"'treems'.*graph:social"):
        _pipe("treems", data, [])
