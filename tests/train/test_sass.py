"""SASS's objectives (train/sass.py) and its two stages in train/matching.py: the contrastive pair construction
on a hand case, eq. 9's positives and 2(N-1) negatives, the pairwise losses eqs. 11-13, the negative sampler, and
fine-tuning restored from the pre-trained weights (also after a resume)."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from unisr.train.sass import (
    ScenarioPairwiseFinetune,
    contrastive_logits,
    nt_xent,
    pairwise_loss,
    scenario_pairs,
)


def test_pairs_hand_case_all_c_k_2_pairs_of_one_row_per_scenario():
    #            row: 0  1  2  3  4  5  6  7
    entity = torch.tensor([7, 7, 7, 8, 8, 9, 7, 5])
    scenario = torch.tensor([0, 1, 2, 0, 0, 1, 1, 3])
    i, j = scenario_pairs(entity, scenario)
    pairs = sorted(zip(i.tolist(), j.tolist(), strict=True))
    # entity 7 is in scenarios 0, 1, 2 (rows 0, 1, 2; row 6 repeats scenario 1): C(3, 2) = 3 pairs;
    # 8 is in one scenario twice, 9 and 5 in one: no pair
    assert pairs == [(0, 1), (0, 2), (1, 2)]
    assert all(entity[a] == entity[b] and scenario[a] != scenario[b] for a, b in pairs)


def test_pairs_count_is_c_k_2_per_entity():
    g = torch.Generator().manual_seed(0)
    entity = torch.randint(0, 30, (400,), generator=g)
    scenario = torch.randint(0, 5, (400,), generator=g)
    i, j = scenario_pairs(entity, scenario)
    expected = 0
    for e in entity.unique().tolist():
        k = len(scenario[entity == e].unique())
        expected += k * (k - 1) // 2
    assert len(i) == expected
    assert len({(int(a), int(b)) for a, b in zip(i, j, strict=True)}) == expected
    assert (entity[i] == entity[j]).all() and (scenario[i] != scenario[j]).all()
    assert scenario_pairs(torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long))[0].numel() == 0


def test_contrastive_positives_and_2n_minus_2_negatives():
    n, d = 3, 4
    g = torch.Generator().manual_seed(1)
    e_i, e_j = torch.randn(n, d, generator=g), torch.randn(n, d, generator=g)
    tau = 0.5
    s, positive = contrastive_logits(e_i, e_j, tau)
    assert s.shape == (2 * n, 2 * n)
    assert positive.tolist() == [3, 4, 5, 0, 1, 2]  # e_i^k <-> e_j^k
    finite = torch.isfinite(s)
    assert (finite.sum(1) == 2 * n - 1).all()  # k != i: 1 positive + 2(N-1) negatives per anchor
    assert (finite.sum(1) - 1 == 2 * (n - 1)).all()
    assert not finite.diagonal().any()
    # eq. 9 by hand for the anchor e_i^0: cosine / tau, positive e_j^0, denominator over k != 0
    z = F.normalize(torch.cat([e_i, e_j]), dim=1)
    sims = (z @ z.T) / tau
    l0 = -math.log(math.exp(sims[0, 3]) / sum(math.exp(sims[0, k]) for k in range(2 * n) if k != 0))
    per_anchor = F.cross_entropy(s, positive, reduction="none")
    assert per_anchor[0].item() == pytest.approx(l0, rel=1e-5)
    assert nt_xent(e_i, e_j, tau).item() == pytest.approx(per_anchor.mean().item(), rel=1e-6)
    # identical views give a lower loss than unrelated ones
    assert nt_xent(e_i, e_i.clone(), tau) < nt_xent(e_i, e_j, tau)


def test_pairwise_loss_hand_case():
    u = torch.tensor([[1.0, 0.0]])
    p = torch.tensor([[2.0, 0.0]])  # cos = 1
    n = torch.tensor([[[0.0, 3.0], [-1.0, 0.0]]])  # cos = 0 and -1
    keep = torch.tensor([[True, True]])
    want = (math.log1p(1 / (1 + math.exp(1))) + math.log1p(1 / (1 + math.exp(2)))) / 2
    assert pairwise_loss(u, p, n, keep).item() == pytest.approx(want, rel=1e-6)
    keep = torch.tensor([[True, False]])  # an accidental hit is left out of the mean
    assert pairwise_loss(u, p, n, keep).item() == pytest.approx(math.log1p(1 / (1 + math.exp(1))), rel=1e-6)


def test_negatives_follow_unigram_power_over_the_whole_candidate_set():
    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            from unisr.models.sass import SASSConfig

            self.cfg = SASSConfig(negatives=4)

        def user_views(self, b): ...

        def item_views(self, i, s): ...

    freq = np.array([0, 15, 0, 0, 80])
    obj = ScenarioPairwiseFinetune(M(), None, freq)
    torch.manual_seed(0)
    neg = obj.sample_negatives(20000)
    assert neg.shape == (20000, 4)
    counts = np.bincount(neg.flatten().numpy(), minlength=5) / neg.numel()
    w = (freq + 1.0) ** 0.75
    w[0] = 0.0  # the out-of-vocabulary row is no candidate
    assert counts[0] == 0 and counts[2] > 0  # an item never clicked is still a candidate
    np.testing.assert_allclose(counts, w / w.sum(), atol=0.01)


SETS = ["data.scenario_kinds=[recommend]", "train.epochs=1", "train.max_steps_per_epoch=3",
        "train.progress=false", "model.dim=8", "model.heads=2", "model.layers=2", "data.history_len=10",
        "data.batch_size=2048", "model.pretrain_pairs=64", "train.matching.index.kind=exact",
        "model.pretrain_epochs=1"]


def test_finetune_starts_from_the_pretrained_weights_also_after_resume(sim_dir, tmp_path, monkeypatch):
    from unisr.models.registry import build_model
    from unisr.train.run import train_run

    seen: list[dict] = []
    armed = [True]  # record the weights at the first fine-tuning step of each run
    original = ScenarioPairwiseFinetune.forward

    def spy(self, batch):
        if armed[0]:
            seen.append({k: v.detach().clone() for k, v in self.model.state_dict().items()})
            armed[0] = False
        return original(self, batch)

    monkeypatch.setattr(ScenarioPairwiseFinetune, "forward", spy)
    out = tmp_path / "run"
    run = train_run("sass", sim_dir, out, sets=SETS)
    pre = load_file(out / "pretrain" / "model.safetensors")
    assert (out / "pretrain" / "train_log.jsonl").is_file() and (out / "item_index" / "manifest.json").is_file()
    torch.manual_seed(run.config.train.seed)
    fresh = build_model("sass", run.config.model_params, run.encoder.schema).state_dict()
    first = seen[0]
    assert set(first) == set(pre)
    changed = [k for k in pre if pre[k].dtype.is_floating_point and not torch.equal(pre[k], fresh[k])]
    assert changed, "pre-training changed no weight"
    for k in pre:  # the fine-tuning stage's first step sees exactly the saved pre-trained weights
        assert torch.equal(first[k], pre[k]), k
    stages = run.metrics["stages"]
    assert [s["name"] for s in stages] == ["pretrain", "finetune"] and stages[0]["restored_into"] == "finetune"

    # resume: the fine-tuning checkpoint is gone, a fresh process restores the pre-trained weights (not a new
    # pre-training from other weights, not the fresh initialisation)
    (out / "checkpoints" / "last.pt").unlink()
    armed[0] = True
    train_run("sass", sim_dir, out, sets=SETS, resume=True)
    assert len(seen) == 2
    for k in pre:
        assert torch.equal(seen[1][k], pre[k]), k



class _Encoder:
    def __init__(self, schema):
        n = schema.num_items + 1
        self.item_cat = np.stack([np.arange(n) % 40, np.arange(n) % 6], 1)  # item_id, item.category
        self.item_dense = np.zeros((n, 0), np.float32)


@pytest.mark.parametrize("loss", ["pairwise", "softmax"])
def test_finetune_objective_on_a_batch(loss):
    from synth import random_batch, tiny_schema
    from unisr.models.registry import build_model
    from unisr.pipeline.config import MatchingConfig
    from unisr.train.sass import ContrastivePretrain

    torch.manual_seed(0)
    schema = tiny_schema()
    model = build_model("sass", {"dim": 8, "layers": 2, "finetune_loss": loss, "negatives": 3}, schema)
    model.attach_items(_Encoder(schema))
    batch = random_batch(schema, 64)
    obj = ScenarioPairwiseFinetune(model, MatchingConfig(), np.ones(schema.num_items + 1))
    out, parts = obj(batch)
    assert torch.isfinite(out) and parts["positives"] == float((batch.labels["click"] > 0.5).sum())
    out.backward()
    assert model.user_tower.shared.layers[0].weight.grad is not None  # the auxiliary loss reaches the global net
    assert model.item_tower.aux.net[0].weight.grad is not None
    # beta = 0: the global outputs get no gradient from the auxiliary loss (only through the ML-SAT inputs)
    model.zero_grad()
    model.cfg = model.cfg.model_copy(update={"beta": 0.0})
    obj.cfg = model.cfg
    out0, parts0 = obj(batch)
    assert out0.item() == pytest.approx(parts0["loss_scenario"], rel=1e-6)
    # pre-training reads every row (clicked or not)
    batch.labels["click"] = torch.zeros(64)
    pre, pparts = ContrastivePretrain(model)(batch)
    assert torch.isfinite(pre) and pparts["pairs_user"] > 0 and pparts["pairs_item"] > 0
