import json

import numpy as np
import pytest
import torch

from synth import make_dataset, random_batch, tiny_schema
from unisr.models.registry import build_model
from unisr.pipeline.config import TrainConfig
from unisr.pipeline.run_folder import load_run
from unisr.train.objective import Objective
from unisr.train.optim import OptimizerSet, split_parameters
from unisr.train.run import train_run
from unisr.train.trainer import Callback, EarlyStopping, JsonlLogger, Trainer, lookup_metric


class Snapshot(Callback):
    def __init__(self):
        self.states = []

    def on_epoch_end(self, trainer, epoch, logs):
        self.states.append({k: v.clone() for k, v in trainer.model.state_dict().items()})


def test_early_stopping_restores_best_not_last(tmp_path):
    schema = tiny_schema()
    model = build_model("dnn", {"hidden": [8]}, schema)
    scripted = iter([0.60, 0.90, 0.70, 0.65, 0.99])
    early = EarlyStopping(monitor="auc", mode="max", patience=2)
    snap = Snapshot()
    trainer = Trainer(Objective(model, {"click": 1.0}), OptimizerSet(model, TrainConfig(lr=0.05)),
                      callbacks=[early, snap, JsonlLogger(tmp_path / "log.jsonl")], progress=False)
    trainer.fit(lambda e: [random_batch(schema, 32, seed=e * 10 + k) for k in range(3)],
                lambda: {"overall": {"auc": next(scripted)}, "scenarios": {}}, epochs=5)
    assert early.best_epoch == 1 and len(snap.states) == 4  # stopped after 2 epochs without improvement
    final = model.state_dict()
    for k in final:
        assert torch.equal(final[k], snap.states[1][k])
    assert any(not torch.equal(final[k], snap.states[3][k]) for k in final)
    lines = (tmp_path / "log.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in lines] == [0, 1, 2, 3]


def test_min_mode_monitor():
    e = EarlyStopping(monitor="logloss", mode="min")
    assert e.improved(0.5)
    e.best = 0.5
    assert e.improved(0.4) and not e.improved(0.6)


def test_monitor_lookup_single_scenario_and_mean():
    m = {"overall": {"auc": 0.7, "ctcvr_auc": 0.6}, "scenarios": {"s": {"auc": 0.9}}}
    assert lookup_metric(m, "auc") == 0.7
    assert lookup_metric(m, "scenarios.s.auc") == 0.9
    assert lookup_metric(m, "auc+ctcvr_auc") == pytest.approx(0.65)
    assert lookup_metric(m, "auc + scenarios.s.auc") == pytest.approx(0.8)
    with pytest.raises(KeyError):
        lookup_metric(m, "auc+nope")


def test_monitor_mean_over_scenarios():
    """``scenarios.*.auc``: each scenario counts once, whatever its size; a scenario without a finite AUC (no
    positives in the validation window) is left out; none at all is an error."""
    m = {"overall": {"auc": 0.9}, "scenarios": {"a": {"auc": 0.6}, "b": {"auc": 0.7}, "c": {"auc": float("nan")},
                                                "d": {"n": 0}}}
    assert lookup_metric(m, "scenarios.*.auc") == pytest.approx(0.65)
    assert lookup_metric(m, "scenarios.*.auc+auc") == pytest.approx(0.775)
    with pytest.raises(KeyError, match="gauc"):
        lookup_metric(m, "scenarios.*.gauc")


def test_sparse_embeddings_get_sparse_optimizer():
    schema = tiny_schema()
    model = build_model("mmoe", {"sparse_grad": True}, schema)
    dense, sparse = split_parameters(model)
    assert len(sparse) == 1 and sparse[0].shape[0] == sum(f.vocab_size for f in schema.sparse)
    opt = OptimizerSet(model, TrainConfig(optimizer="adam"))
    assert isinstance(opt.optimizers["sparse"], torch.optim.SparseAdam)
    opt2 = OptimizerSet(model, TrainConfig(optimizer="adagrad"))
    assert isinstance(opt2.optimizers["sparse"], torch.optim.Adagrad)
    b = random_batch(schema, 16)
    Objective(model, {"click": 1.0})(b)[0].backward()
    assert sparse[0].grad.is_sparse


def test_sparse_grad_auto_by_table_size():
    from unisr.data.features import SparseField

    small = tiny_schema()
    assert split_parameters(build_model("dnn", {}, small))[1] == []  # 96 rows: dense Adam
    big = tiny_schema()
    big.sparse = [*big.sparse, SparseField("big", "items", 200_000, 8)]
    assert len(split_parameters(build_model("dnn", {}, big))[1]) == 1


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("d") / "data", n_events=4000)


SETS = ["train.progress=false", "data.batch_size=256", "train.patience=10", "train.lr=0.01"]


def test_run_folder_per_contract(data, tmp_path):
    run = train_run("star", data, tmp_path / "run", sets=SETS + ["train.epochs=2"], seed=0)
    out = tmp_path / "run"
    for f in ("config.yaml", "model.safetensors", "metrics.json", "train_log.jsonl"):
        assert (out / f).exists(), f
    m = json.loads((out / "metrics.json").read_text())
    for k in ("model", "dataset", "task", "split", "seed", "overall", "scenarios", "train_seconds",
              "train_samples_per_second", "best_epoch"):
        assert k in m
    assert m["task"] == "ranking" and m["split"] == "test"
    for s in ("scen0", "scen1", "scen2"):
        block = m["scenarios"][s]
        assert {"auc", "gauc", "logloss", "n", "oracle_auc", "mrr", "hr@5", "hr@10"} <= set(block)
    assert m["overall"]["auc"] > 0.6  # there is signal to learn in the synthetic data
    assert len((out / "train_log.jsonl").read_text().splitlines()) == 2
    # the checkpoint is loadable without unpickling arbitrary objects
    torch.load(out / "checkpoints" / "last.pt", weights_only=True)
    cfg, enc, model = load_run(out)
    assert cfg.model_name == "star" and run.metrics["overall"]["auc"] == m["overall"]["auc"]


def test_resume_equals_uninterrupted(data, tmp_path):
    full = train_run("mmoe", data, tmp_path / "full", sets=SETS + ["train.epochs=4"], seed=3)
    train_run("mmoe", data, tmp_path / "part", sets=SETS + ["train.epochs=2"], seed=3)
    resumed = train_run("mmoe", data, tmp_path / "part", sets=SETS + ["train.epochs=4"], seed=3, resume=True)
    assert resumed.metrics["overall"]["auc"] == full.metrics["overall"]["auc"]
    assert resumed.metrics["overall"]["logloss"] == full.metrics["overall"]["logloss"]
    assert resumed.metrics["best_epoch"] == full.metrics["best_epoch"]
    for (k, a), (_, b) in zip(full.model.state_dict().items(), resumed.model.state_dict().items(), strict=True):
        assert torch.equal(a, b), k
    lines = (tmp_path / "part" / "train_log.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in lines] == [0, 1, 2, 3]


def test_same_seed_same_result_different_seed_differs(data, tmp_path):
    a = train_run("dnn", data, tmp_path / "a", sets=SETS + ["train.epochs=1"], seed=1).metrics
    b = train_run("dnn", data, tmp_path / "b", sets=SETS + ["train.epochs=1"], seed=1).metrics
    c = train_run("dnn", data, tmp_path / "c", sets=SETS + ["train.epochs=1"], seed=2).metrics
    assert a["overall"]["auc"] == b["overall"]["auc"]
    assert not np.isclose(a["overall"]["auc"], c["overall"]["auc"], rtol=0, atol=1e-9)


def test_weighted_multi_task_losses(data, tmp_path):
    # ctcvr label = click * conversion; DNN predicts only click, so ctcvr weight is ignored for it
    obj = Objective(build_model("dnn", {}, tiny_schema()), {"click": 0.5, "ctcvr": 1.0})
    b = random_batch(tiny_schema(), 8)
    assert torch.equal(b.label("ctcvr"), b.labels["click"] * b.labels["conversion"])
    loss, parts = obj(b)
    assert loss.item() == pytest.approx(0.5 * parts["loss_click"], rel=1e-5)


class StageRecorder(Callback):
    def __init__(self):
        self.stages = []

    def on_stage_start(self, trainer, stage):
        self.stages.append(stage)


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "adagrad", "sgd"])
def test_stages_optimizers_and_clipping(tmp_path, optimizer):
    schema = tiny_schema()
    model = build_model("mmoe", {}, schema)
    rec = StageRecorder()
    log = JsonlLogger(tmp_path / "log.jsonl")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = Trainer(Objective(model, {"click": 1.0}), OptimizerSet(model, TrainConfig(optimizer=optimizer, lr=0.05)),
                      clip_norm=0.01, callbacks=[rec, log], progress=False)
    batches = lambda e: [random_batch(schema, 32, seed=e)]  # noqa: E731
    trainer.fit(batches, None, epochs=1, stage="pretrain")
    trainer.fit(batches, None, epochs=2, stage="finetune")
    assert rec.stages == ["pretrain", "finetune"]
    stages = [json.loads(x)["stage"] for x in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert stages == ["pretrain", "finetune", "finetune"]
    after = model.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
