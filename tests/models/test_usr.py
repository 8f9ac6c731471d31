"""USR: stop-gradients, the conditional-probability product, the switches, every backbone, a real CLI run."""

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from unisr.data.batch import Batch
from unisr.data.features import FeatureSchema, SequenceField, SparseField
from unisr.models.registry import build_model
from unisr.models.usr import DynamicWeightInterest, ViewFeatureGenerator, product_logit, view_contrastive

UNISR = str(Path(sys.executable).parent / "unisr")
BACKBONES = ["shared_bottom", "mmoe", "ple", "star", "m2m", "apg"]


def schema() -> FeatureSchema:
    return FeatureSchema(
        sparse=[SparseField("user_id", "users", 30, 8), SparseField("item_id", "items", 40, 8),
                SparseField("item.brand", "items", 6, 8), SparseField("trigger_item_id", "events", 40, 8)],
        dense=[], sequences=[SequenceField("item.title_tokens", "items", 20, 4, 8),
                             SequenceField("query_tokens", "queries", 25, 3, 8)],
        scenarios=["search_text", "feed_main", "feed_x"], scenario_kinds=["search_text", "recommend", "recommend"],
        num_users=29, num_items=39)


def batch(n: int = 48, seed: int = 0) -> Batch:
    g = torch.Generator().manual_seed(seed)
    sc = schema()
    sparse = torch.stack([torch.randint(0, f.vocab_size, (n,), generator=g) for f in sc.sparse], 1)
    scen = torch.randint(0, 3, (n,), generator=g)
    q = torch.randint(1, 25, (n, 3), generator=g) * (scen == 0).long().unsqueeze(1)
    hist = torch.randint(1, 40, (n, 5), generator=g)
    hmask = torch.rand(n, 5, generator=g) < 0.7
    click = torch.randint(0, 2, (n,), generator=g).float()
    conv = torch.randint(0, 2, (n,), generator=g).float()
    gclick = torch.maximum(click, torch.randint(0, 2, (n,), generator=g).float())
    return Batch(
        scenario_id=scen, sparse=sparse, dense=torch.zeros(n, 0),
        labels={"click": click, "conversion": conv, "global_click": gclick, "global_buy": gclick * conv},
        user_index=sparse[:, 0], item_index=sparse[:, 1], event_id=torch.arange(n),
        sequences={"item.title_tokens": (torch.randint(0, 20, (n, 4), generator=g), torch.ones(n, 4, dtype=bool)),
                   "query_tokens": (q, q > 0), "history": (hist * hmask, hmask),
                   "history_scenario": (torch.randint(0, 3, (n, 5), generator=g) * hmask, hmask)},
    )


def model(**kw):
    torch.manual_seed(0)
    return build_model("usr", {"dim": 8, "sparse_grad": False, **kw}, schema())


@pytest.mark.parametrize("backbone", BACKBONES)
def test_every_backbone_predicts_ctr_ctcvr_and_global_and_trains(backbone):
    m = model(backbone=backbone)
    b = batch()
    out = m(b)
    for k in ("click", "ctcvr", "global_click", "global_buy"):
        assert out[k].shape == (48,) and torch.isfinite(out[k]).all()
    loss = sum(torch.nn.functional.binary_cross_entropy_with_logits(out[k], b.labels[lab]) for k, lab in
               [("click", "click"), ("global_click", "global_click"), ("global_buy", "global_buy")])
    loss = loss + sum(m.extra_losses(b, out).values())
    loss.backward()
    for name, p in m.named_parameters():
        assert p.grad is not None, f"no gradient reaches {name}"
        assert torch.isfinite(p.grad).all(), name
    m.eval()
    with torch.no_grad():
        assert m(batch(1, seed=2))["click"].shape == (1,)


def test_interest_extractor_condition_path_gives_no_gradient_to_interest():
    torch.manual_seed(0)
    ie = DynamicWeightInterest(6, [12], [6])
    i_g = torch.randn(5, 6, requires_grad=True)
    t = torch.randn(5, 6, requires_grad=True)
    ie(i_g, t).sum().backward()
    # the same computation with the generated weights frozen: only the DW input path carries i_g's gradient
    i_g2 = i_g.detach().clone().requires_grad_(True)
    with torch.no_grad():
        w, b = ie.generate(t, i_g)
    ie.out(torch.relu(torch.bmm(i_g2.unsqueeze(1), w).squeeze(1) + b)).sum().backward()
    assert torch.allclose(i_g.grad, i_g2.grad, atol=1e-6)
    assert t.grad is not None and t.grad.abs().sum() > 0  # the trigger is trained through the condition
    # sensitivity: without the stop-gradient the condition path would add a gradient
    i_g3 = i_g.detach().clone().requires_grad_(True)
    w, b = ie.generate(t.detach(), i_g3)
    ie.out(torch.relu(torch.bmm(i_g3.unsqueeze(1), w).squeeze(1) + b)).sum().backward()
    assert not torch.allclose(i_g3.grad, i_g2.grad, atol=1e-6)


def test_feature_generator_gate_gives_no_gradient_to_features():
    torch.manual_seed(0)
    fg = ViewFeatureGenerator(4, 10, [8], [8])
    e_a = torch.randn(5, 10, requires_grad=True)
    t = torch.randn(5, 4, requires_grad=True)
    fg(e_a, t).sum().backward()
    e2 = e_a.detach().clone().requires_grad_(True)
    with torch.no_grad():
        gate = fg.scale(e_a, t)
    fg.out(e2 * gate).sum().backward()
    assert torch.allclose(e_a.grad, e2.grad, atol=1e-6)
    assert t.grad.abs().sum() > 0
    e3 = e_a.detach().clone().requires_grad_(True)
    fg.out(e3 * torch.sigmoid(fg.gate(torch.cat([t.detach(), e3], 1)))).sum().backward()
    assert not torch.allclose(e3.grad, e2.grad, atol=1e-6)


def test_model_interest_gets_gradient_only_through_the_input_path():
    """Within the full model: the gradient reaching i_g from the IE layer equals the one with the DW weights
    held fixed, i.e. nothing flows back through the condition."""
    m = model()
    b = batch()
    x = m.inputs(b)
    i_g = x["i_g"].detach().requires_grad_(True)
    t_s = (m.views.weight[1] + x["e_q"]).detach()
    m.ie(i_g, t_s).sum().backward()
    i_g2 = i_g.detach().clone().requires_grad_(True)
    with torch.no_grad():
        w, bias = m.ie.generate(t_s, i_g)
    m.ie.out(torch.relu(torch.bmm(i_g2.unsqueeze(1), w).squeeze(1) + bias)).sum().backward()
    assert torch.allclose(i_g.grad, i_g2.grad, atol=1e-6)


def test_conditional_probability_product():
    a, b = torch.randn(100) * 4, torch.randn(100) * 4
    assert torch.allclose(torch.sigmoid(product_logit(a, b)), torch.sigmoid(a) * torch.sigmoid(b), atol=1e-5)
    m = model()
    m.eval()
    with torch.no_grad():
        out = m(batch())
    for task, g in (("click", "global_click"), ("ctcvr", "global_buy")):
        expect = torch.sigmoid(out[f"usr/cond_{task}"]) * torch.sigmoid(out[g])
        assert torch.allclose(torch.sigmoid(out[task]), expect, atol=1e-5)
        assert (torch.sigmoid(out[task]) <= torch.sigmoid(out[g]) + 1e-6).all()  # p(action) <= p(global)


def test_each_switch_changes_the_computation():
    b = batch()
    full = model()
    ref = full(b)
    assert {"usr/i_s", "usr/f_s", "global_click"} <= set(ref)
    assert set(full.extra_losses(b, ref)) == {"cl_interest", "cl_feature"}
    for flag, gone in (("use_ie", "usr/i_s"), ("use_fg", "usr/f_s"), ("use_glmt", "global_click")):
        m = model(**{flag: False})
        out = m(b)
        assert gone not in out and gone in ref
        assert not torch.allclose(out["click"], ref["click"])
        assert (m.vk_dim, m.vsr_dim) != (full.vk_dim, full.vsr_dim) or flag == "use_glmt"
    assert "cl_interest" not in model(use_ie=False).extra_losses(b, model(use_ie=False)(b))
    assert model(use_glmt=False).main is None
    # search samples use the search view, recommendation samples the recommendation view (eq. 10)
    m = model()
    x = m(b)
    assert not torch.allclose(x["usr/i_s"], x["usr/i_r"])


BASE_FLAGS = {"use_ie": False, "use_fg": False, "use_glmt": False}


def visible(m) -> None:
    """Embedding tables start at std 1e-4 (``nn/embedding.py``): widen them so a changed input moves the score
    well above float noise."""
    torch.manual_seed(1)
    for w in m.embedding.parameters():
        torch.nn.init.normal_(w, std=0.5)
    m.eval()


def scores(m, b: Batch) -> torch.Tensor:
    with torch.no_grad():
        out = m(b)
    return torch.stack([out["click"], out["ctcvr"]], 1)


def fields_read(m, b: Batch) -> set[str]:
    """The batch fields whose values move the model's scores: each sparse column, sequence, the target item and
    the scenario, changed alone (rows rolled by one), kept when some score moves by more than 1e-6."""
    ref = scores(m, b)
    roll = torch.roll(torch.arange(len(b)), 1)
    changed: dict[str, Batch] = {}
    for j, f in enumerate(schema().sparse):
        sp = b.sparse.clone()
        sp[:, j] = sp[roll, j]
        changed[f"sparse:{f.name}"] = replace(b, sparse=sp)
    for name, (ids, mask) in b.sequences.items():
        changed[f"sequence:{name}"] = replace(b, sequences={**b.sequences, name: (ids[roll], mask[roll])})
    changed["item_index"] = replace(b, item_index=b.item_index[roll])
    changed["scenario_id"] = replace(b, scenario_id=b.scenario_id[roll])
    return {k: None for k, v in changed.items() if (scores(m, v) - ref).abs().max() > 1e-6}.keys()


def test_base_score_changes_when_only_the_query_of_a_search_row_changes():
    """The Base (IE, FG, GLMT off) with ``query_input`` on / auto reads the query that USR's trigger carries."""
    b = batch()
    row = int((b.scenario_id == 0).nonzero()[0])  # a search_text row
    q, mask = b.sequences["query_tokens"]
    q2 = q.clone()
    q2[row] = (q[row] % 24) + 1  # another query, same length, tokens in vocabulary
    b2 = replace(b, sequences={**b.sequences, "query_tokens": (q2, mask)})
    moved = {}
    for mode in ("on", "auto", "off"):
        m = model(**BASE_FLAGS, query_input=mode)
        visible(m)
        moved[mode] = (scores(m, b2) - scores(m, b)).abs().max(1).values
    others = torch.arange(len(b)) != row
    for mode in ("on", "auto"):
        assert moved[mode][row] > 1e-4  # only the query changed, and the score moves
        assert (moved[mode][others] == 0).all()  # rows do not leak into each other
    assert (moved["off"] == 0).all()  # the Base before issue 33 ignored the query tokens: the check can fail
    assert model(**BASE_FLAGS, query_input="on").vsr_dim == model(**BASE_FLAGS).vsr_dim + 8  # + e_q (d = 8)
    assert model(query_input="auto").vk_dim == model().vk_dim  # auto: full USR reads e_q through the trigger
    assert model(query_input="on").vk_dim == model().vk_dim + 8  # forced on in full USR: e_q in e_s


def suite_config(row) -> dict:
    return {k.removeprefix("model."): v for k, v in ((o.key, o.value) for o in row.overrides)
            if k.startswith("model.")}


@pytest.mark.parametrize("backbone", ["shared_bottom", "star"])
def test_suite_base_and_usr_read_the_same_batch_fields(backbone):
    """The suite's Base and Base+USR rows (``bench/suite_usr.py:rows``) read the same batch fields, the query
    tokens included, so table 1's Δ measures USR's layers and not an input only one side gets."""
    from unisr.bench.suite_usr import rows

    b = batch()
    got = {}
    for row in rows([backbone], ablation=False, dims=[]):
        m = model(**suite_config(row))
        visible(m)
        got[row.name] = set(fields_read(m, b))
    base, usr = got[f"{backbone}-base"], got[f"{backbone}-usr"]
    assert "sequence:query_tokens" in usr and "sparse:item.brand" in usr and "sequence:history" in usr
    assert base == usr, (base ^ usr)
    # the probe tells inputs apart: the Base without the query reads one field less
    m = model(**{**suite_config(rows([backbone], False, [])[0]), "query_input": "off"})
    visible(m)
    assert set(fields_read(m, b)) == base - {"sequence:query_tokens"}


def test_fg_keep_raw_puts_the_raw_attributes_beside_the_generated_features():
    full, keep = model(), model(fg_keep_raw=True)
    assert (keep.vk_dim, keep.vsr_dim) == (full.vk_dim + full.agn_dim, full.vsr_dim + full.agn_dim)
    b = batch()
    out = keep(b)
    assert "usr/f_s" in out and torch.isfinite(out["ctcvr"]).all()
    assert model(use_fg=False, fg_keep_raw=True).vk_dim == model(use_fg=False).vk_dim  # raw e_a once


def test_contrastive_loss_prefers_separated_views():
    torch.manual_seed(0)
    n = 32
    perm = torch.randperm(n)
    s = torch.tensor([1.0, 0.0]).repeat(n, 1) * 2 + torch.randn(n, 2) * 0.05
    separated = view_contrastive(s, -s, 1.0, perm)
    mixed = view_contrastive(s, s.clone(), 1.0, perm)
    assert separated < mixed


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    from unisr.simulate import simulate

    out = tmp_path_factory.mktemp("usr") / "tiny"
    simulate("tiny", out, seed=0)
    return out


@pytest.mark.parametrize("backbone", ["star", "mmoe"])
def test_cli_train_reports_ctr_and_ctcvr_per_scenario(sim, tmp_path, backbone):
    run = tmp_path / "run"
    p = subprocess.run([UNISR, "train", "--model", "usr", "--data", str(sim), "--out", str(run),
                        "--set", f"model.backbone={backbone}", "--set", "train.threads=1",
                        "--set", "train.epochs=1", "--set", "train.max_steps_per_epoch=4",
                        "--set", "data.scenarios=[search_text,feed_main]", "--set", "train.progress=false"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    m = json.loads((run / "metrics.json").read_text())
    for s in ("search_text", "feed_main"):
        blk = m["scenarios"][s]
        assert 0 <= blk["ctr_auc"] <= 1 and 0 <= blk["ctcvr_auc"] <= 1 and "oracle_auc" in blk
    cfg = (run / "config.yaml").read_text()
    assert "adamw" in cfg and "global_labels: true" in cfg
