"""The training-only position bias: it shapes the training logits and loss, never the evaluated scores; it is
optimised, checkpointed and resumed with the run but kept out of ``model.safetensors``."""

import json
from dataclasses import replace

import pytest
import torch
from safetensors.torch import load_file

from position_synth import make_position_dataset
from synth import make_dataset
from unisr.data.features import FeatureEncoder
from unisr.data.schema import DatasetSpec
from unisr.evaluate.evaluator import evaluate_model
from unisr.models.registry import build_model
from unisr.nn.position import PositionBias
from unisr.pipeline.config import ConfigError, TrainConfig, resolve_config
from unisr.pipeline.pipeline import Pipeline
from unisr.train.objective import Objective
from unisr.train.optim import OptimizerSet
from unisr.train.run import evaluate_run, train_run

SETS = ["train.progress=false", "data.batch_size=256", "train.patience=10", "train.lr=0.01", "train.position_bias=auto"]


@pytest.fixture(scope="module")
def pos_data(tmp_path_factory):
    return make_position_dataset(tmp_path_factory.mktemp("p") / "data", n_events=4000, null_scenario=2)


@pytest.fixture(scope="module")
def plain_data(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("n") / "data", n_events=1500)


@pytest.fixture(scope="module")
def pipe(pos_data):
    cfg = resolve_config("dnn", sets=SETS)
    enc = FeatureEncoder.fit(pos_data, DatasetSpec.load(pos_data))
    return Pipeline.open(cfg, pos_data, enc)


def _objective(pipe, seed: int = 0) -> Objective:
    torch.manual_seed(seed)
    net = build_model("dnn", {"hidden": [16]}, pipe.encoder.schema)
    bias = PositionBias(pipe.encoder.schema.num_scenarios)
    torch.nn.init.normal_(bias.tower[-1].weight)  # as after some training
    return Objective(net, {"click": 1.0}, bias)


def test_changes_training_logits_and_loss_not_evaluation_scores(pipe):
    obj = _objective(pipe)
    batch = next(iter(pipe.batches("train", 0, train=True)))
    assert batch.position is not None and (batch.position > 0).any()
    model_logit = obj.model(batch)["click"]
    train_logit = obj.train_logits(batch)["click"]
    moved = train_logit != model_logit
    # moved exactly where the sample has a position other than the top slot
    assert torch.equal(moved, batch.position > 0)
    no_pos = replace(batch, position=None)
    assert torch.equal(obj.train_logits(no_pos)["click"], model_logit)  # no positions: no bias
    assert obj(batch)[0] != obj(no_pos)[0]  # the training loss differs when positions differ
    shifted = replace(batch, position=(batch.position + 1).clamp(max=4))
    assert obj(batch)[0] != obj(shifted)[0]
    # the evaluation runs the model: the same weights score the same with or without the component / positions
    names = pipe.scenario_names
    with_pos = evaluate_model(obj.model, pipe.batches("valid"), names)
    without = evaluate_model(obj.model, (replace(b, position=None) for b in pipe.batches("valid")), names)
    plain = Objective(obj.model, {"click": 1.0})
    assert with_pos == without
    assert evaluate_model(plain.model, pipe.batches("valid"), names) == with_pos


def test_bias_parameters_are_optimised_with_the_model(pipe):
    obj = _objective(pipe)
    opt = OptimizerSet(obj, TrainConfig(lr=0.05))
    held = {id(p) for o in opt.optimizers.values() for g in o.param_groups for p in g["params"]}
    assert {id(p) for p in obj.position_bias.parameters()} <= held
    assert {id(p) for p in obj.model.parameters()} <= held
    before = {k: v.clone() for k, v in obj.component_state_dict().items()}
    for step, batch in enumerate(pipe.batches("train", 0, train=True)):
        if step == 3:
            break
        opt.zero_grad()
        obj(batch)[0].backward()
        for name, p in obj.position_bias.named_parameters():
            assert p.grad is not None and p.grad.abs().sum() > 0, name
        opt.step()
    after = obj.component_state_dict()
    assert set(after) == set(before) and all(k.startswith("position_bias.") for k in after)
    for k in before:
        assert not torch.equal(before[k], after[k]), k


def test_run_trains_with_it_and_serves_without_it(pos_data, tmp_path):
    run = train_run("dnn", pos_data, tmp_path / "on", sets=SETS + ["train.epochs=2"], seed=0)
    m = json.loads((tmp_path / "on" / "metrics.json").read_text())
    assert m["position_bias"] is True and run.config.train.position_bias == "auto"
    assert not any("position" in k for k in load_file(tmp_path / "on" / "model.safetensors"))
    ckpt = torch.load(tmp_path / "on" / "checkpoints" / "last.pt", weights_only=True)
    assert ckpt["objective"] and all(k.startswith("position_bias.") for k in ckpt["objective"])
    assert float(ckpt["objective"]["position_bias.tower.2.weight"].abs().sum()) > 0  # trained (starts at 0)
    # the reported metrics are the run folder's (position-free) model evaluated again
    again = evaluate_run(tmp_path / "on", pos_data)
    assert again["overall"] == m["overall"] and again["scenarios"] == m["scenarios"]
    off = train_run("dnn", pos_data, tmp_path / "off", sets=SETS + ["train.epochs=2", "train.position_bias=off"],
                    seed=0)
    assert off.metrics["position_bias"] is False
    assert not torch.load(tmp_path / "off" / "checkpoints" / "last.pt", weights_only=True)["objective"]
    a, b = run.model.state_dict(), off.model.state_dict()
    assert any(not torch.equal(a[k], b[k]) for k in a)  # the bias changed what the model learned


@pytest.mark.parametrize(("given", "read"), [("off", "off"), ("on", "on"), ("auto", "auto"), ("'off'", "off")])
def test_switch_reads_yaml_on_off_as_words(given, read):
    assert resolve_config("dnn").train.position_bias == "auto"  # on where the events have positions (issue 31)
    assert resolve_config("dnn", sets=[f"train.position_bias={given}"]).train.position_bias == read
    with pytest.raises(ConfigError, match="train.position_bias"):
        resolve_config("dnn", sets=["train.position_bias=sometimes"])


def test_off_without_positions_and_on_is_an_error(plain_data, tmp_path):
    run = train_run("dnn", plain_data, tmp_path / "auto", sets=SETS + ["train.epochs=1"], seed=0)
    assert run.metrics["position_bias"] is False
    with pytest.raises(ConfigError, match="train.position_bias"):
        train_run("dnn", plain_data, tmp_path / "on", sets=SETS + ["train.epochs=1", "train.position_bias=on"])


def test_resume_equals_uninterrupted_with_the_bias(pos_data, tmp_path):
    full = train_run("mmoe", pos_data, tmp_path / "full", sets=SETS + ["train.epochs=4"], seed=3)
    train_run("mmoe", pos_data, tmp_path / "part", sets=SETS + ["train.epochs=2"], seed=3)
    resumed = train_run("mmoe", pos_data, tmp_path / "part", sets=SETS + ["train.epochs=4"], seed=3, resume=True)
    assert full.metrics["position_bias"] and resumed.metrics["position_bias"]
    assert resumed.metrics["overall"] == full.metrics["overall"]
    assert resumed.metrics["best_epoch"] == full.metrics["best_epoch"]
    for (k, a), (_, b) in zip(full.model.state_dict().items(), resumed.model.state_dict().items(), strict=True):
        assert torch.equal(a, b), k
    bias_full = torch.load(tmp_path / "full" / "checkpoints" / "last.pt", weights_only=True)["objective"]
    bias_res = torch.load(tmp_path / "part" / "checkpoints" / "last.pt", weights_only=True)["objective"]
    assert bias_full.keys() == bias_res.keys()
    for k in bias_full:
        assert torch.equal(bias_full[k], bias_res[k]), k
