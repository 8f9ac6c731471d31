import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from srj_baselines import check_search_rec, search_rec_batch, search_rec_schema
from synth import check_ranker, tiny_schema
from unisr.models.registry import build_model, get_model_info


def test_aem_din_without_history_and_query():
    schema = tiny_schema()
    check_ranker(build_model("aem_din", {"mlp": [8], "history_scenario": False}, schema), schema, [])


@pytest.mark.parametrize("softmax", [False, True])
def test_aem_din_shapes_gradients_history_and_query(softmax):
    schema = search_rec_schema()
    model = build_model("aem_din", {"mlp": [8], "attention_hidden": [8], "softmax": softmax}, schema)
    check_search_rec(model, schema, uses_history=True)


def test_attention_weights_zero_on_absent_behaviours_and_query_in_attention():
    schema = search_rec_schema()
    model = build_model("aem_din", {"mlp": [8]}, schema).eval()
    batch = search_rec_batch(schema, 16)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(1)) * 0.3)
        x = model.fields(batch)
        e_q, e_t = model.fields.query_of(x, batch), model.behaviours.target(batch)
        _, w = model.interest(batch, e_q, e_t)
        mask = batch.sequences["history"][1]
        assert (w[~mask] == 0).all() and (w[mask] != 0).all()
        # the attention query is [e_q || e_t]: another query re-weights the same behaviours
        _, w2 = model.interest(batch, e_q + 1.0, e_t)
        assert not torch.allclose(w2[mask], w[mask])
    assert get_model_info("aem_din").defaults["data"]["history_len"] == 25


@pytest.mark.parametrize("scenarios,history", [(["search_text", "feed_main"], None), (["feed_main"], ["feed_main"])])
def test_train_on_simulated_data(sim_dir, tmp_path, scenarios, history):
    """`unisr train` in the JSR joint form (search_text + feed_main, history from both) and in the single-scenario
    form (feed_main, its own history) writes a run folder evaluated on those scenarios only."""
    out = tmp_path / "run"
    cmd = [str(Path(sys.executable).parent / "unisr"), "train", "--model", "aem_din", "--data", str(sim_dir),
           "--out", str(out), "--set", "train.threads=1", "--set", "train.epochs=1", "--set", "train.progress=false",
           "--set", f"data.scenarios=[{','.join(scenarios)}]"]
    if history:
        cmd += ["--set", f"data.history_scenarios=[{','.join(history)}]"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["scenarios"]) == set(scenarios)
    for m in metrics["scenarios"].values():
        assert m["n"] > 0 and 0.0 <= m["auc"] <= 1.0
    cfg = (out / "config.yaml").read_text()
    assert "history_len: 25" in cfg
