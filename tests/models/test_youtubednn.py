"""YoutubeDNN (models/youtubednn.py): the watched-items mean leaves the row's own item out, shapes and gradients,
the bags travel with the weights."""

from types import SimpleNamespace

import numpy as np
import torch

from synth import random_batch, tiny_schema
from unisr.models.registry import build_model, get_model_info
from unisr.pipeline.config import MatchingConfig
from unisr.train.matching import MatchingObjective


def _model():
    torch.manual_seed(0)
    m = build_model("youtubednn", {"dim": 8, "watch_dim": 6, "hidden": [16]}, tiny_schema())
    # user 1 watched items 2, 3, 5; user 2 watched 7
    m.attach_interactions(SimpleNamespace(user=np.array([1, 1, 1, 2, 1]), item=np.array([2, 3, 5, 7, 3]),
                                          scenario=np.zeros(5, np.int64)))
    return m


def test_watched_mean_excludes_the_rows_own_item():
    m = _model()
    w = m.watch.weight
    got = m.watched_mean(torch.tensor([1, 1, 2, 2, 3]), torch.tensor([3, 9, 7, 1, 4]))
    assert torch.allclose(got[0], (w[2] + w[5]) / 2)  # its own item 3 left out (a training row)
    assert torch.allclose(got[1], (w[2] + w[3] + w[5]) / 3)  # a held-out item: the whole bag
    assert torch.allclose(got[2], torch.zeros(6))  # the only watched item is the row's own
    assert torch.allclose(got[3], w[7]) and torch.allclose(got[4], torch.zeros(6))  # user 3: no watches


def test_shapes_gradients_and_saved_bags():
    m = _model()
    assert get_model_info("youtubednn").task == "matching"
    b = random_batch(tiny_schema(), 32)
    b.user_index = torch.randint(1, 3, (32,))
    b.labels["click"] = torch.ones(32)
    assert m.user_vectors(b).shape == (32, 8) and m.item_vectors(b.item_index, b.scenario_id).shape == (32, 8)
    loss, _ = MatchingObjective(m, MatchingConfig(temperature=1.0), np.ones(40))(b)
    loss.backward()
    assert m.watch.weight.grad is not None and m.out_item.weight.grad is not None
    fresh = build_model("youtubednn", {"dim": 8, "watch_dim": 6, "hidden": [16]}, tiny_schema())
    fresh.load_state_dict(m.state_dict())  # the bag buffers take the saved shape
    assert torch.equal(fresh.bag_items, m.bag_items) and torch.equal(fresh.bag_indptr, m.bag_indptr)


def test_train_end_to_end_on_a_synthetic_dataset(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    from synth import make_dataset

    data = make_dataset(tmp_path / "data", n_events=3000)
    out = tmp_path / "run"
    p = subprocess.run([str(Path(sys.executable).parent / "unisr"), "train", "--model", "youtubednn", "--data",
                        str(data), "--out", str(out), "--set", "train.epochs=2", "--set", "data.batch_size=256",
                        "--set", "train.progress=false", "--set", "model.dim=8", "--set", "model.watch_dim=8",
                        "--set", "model.hidden=[16]", "--set", "train.matching.index.kind=exact"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    m = json.loads((out / "metrics.json").read_text())
    assert m["model"] == "youtubednn" and 0.0 <= m["overall"]["recall@10"] <= 1.0 and m["overall"]["n"] > 0
