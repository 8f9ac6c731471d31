"""``nn/social.py``: the initialisation rule every sharing model applies to its ReLU stacks on x, the typed
social sample the sharing models read, and the sampler spec each declares from its config."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from share_synth import build
from unisr.models.graph_configs import ShareConfig
from unisr.models.registry import MODELS, load_builtin_models
from unisr.nn.social import RELU_STACKS, init_relu_stacks

load_builtin_models()
SHARE_MODELS = sorted(n for n, info in MODELS.items() if issubclass(info.config, ShareConfig))


def test_every_sharing_model_is_covered():
    assert len(SHARE_MODELS) >= 9 and "treems" in SHARE_MODELS and "share_dnn" in SHARE_MODELS


def _stack_linears(net: nn.Module) -> list[nn.Linear]:
    out = []
    for name in RELU_STACKS:
        part = getattr(net, name, None)
        if isinstance(part, nn.Module):
            out += [m for m in part.modules() if isinstance(m, nn.Linear)]
    return out


@pytest.mark.parametrize("name", SHARE_MODELS)
def test_he_is_the_default_and_torch_restores_nn_linear_init(name: str):
    he = build(name)
    default = build(name, init="torch")
    lin_he, lin_default = _stack_linears(he), _stack_linears(default)
    assert lin_he, f"{name} has no ReLU stack under {RELU_STACKS}"
    for a, b in zip(lin_he, lin_default, strict=True):
        assert torch.count_nonzero(a.bias) == 0  # He: zero biases
        assert torch.count_nonzero(b.bias) > 0  # nn.Linear's default: uniform biases
        bound = 1 / a.in_features ** 0.5  # nn.Linear's default stays within +-1/sqrt(fan_in)
        assert float(b.weight.abs().max()) <= bound
        if a.weight.numel() >= 256:
            assert abs(float(a.weight.std()) - (2 / a.in_features) ** 0.5) < 0.25 * (2 / a.in_features) ** 0.5


def test_other_parts_keep_their_init_and_unknown_rules_are_refused():
    net = build("share_mmoe", init="torch")
    gates = [g.weight.clone() for g in net.gates]
    init_relu_stacks(net, "he")
    assert all(torch.equal(g.weight, w) for g, w in zip(net.gates, gates, strict=True))  # gates are not stacks
    with pytest.raises(ValueError, match="init"):
        init_relu_stacks(net, "xavier")


@pytest.mark.parametrize("name", SHARE_MODELS)
def test_sampler_spec_comes_from_the_config(name: str):
    from unisr.graph.hooks import SocialSpec

    info = MODELS[name]
    cfg = info.config.model_validate({"views": ["pay"], "fanouts": [4, 2]})
    assert info.cls.sampler_spec(cfg) == SocialSpec(("pay",), (4, 2), directed_pairs=True)
    assert info.cls.sampler_spec(info.config()) == SocialSpec(("friend", "pay", "share"), (10,), directed_pairs=True)
    for off in ({"pair_mode": "symmetric"}, {"pair_features": False}):  # the hook as before issue 33
        assert info.cls.sampler_spec(info.config.model_validate(off)) == SocialSpec(("friend", "pay", "share"), (10,))


def test_pair_history_follows_the_views_asked_for():
    from share_synth import VIEWS, share_batch, share_schema

    sub = share_batch(share_schema(), 4).subgraph
    assert sub.pair_history(list(VIEWS)) is None  # no exact history: the models read the sample instead
    sub.pair = torch.arange(12.0).view(4, 3)
    assert sub.pair_history(list(VIEWS)) is sub.pair
    assert torch.equal(sub.pair_history(["share", "friend"]), sub.pair[:, [2, 0]])
    with pytest.raises(ValueError, match="no social view 'enemy'"):
        sub.neighbourhood("enemy", "src")


# ------------------------------------------------------------------ the pair's directed, weighted history (issue 33)
def test_directed_pair_features_keep_direction_and_weights():
    from share_synth import VIEWS, share_batch, share_schema
    from unisr.nn.social import directed_pair_features

    sub = share_batch(share_schema(), 4).subgraph
    sub.pair_out = torch.tensor([[0.0, 3.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [1.0, 1.0, 2.0]])
    sub.pair_in = torch.tensor([[0.0, 0.0, 0.0], [1.0, 5.0, 0.0], [0.0, 0.0, 0.0], [1.0, 1.0, 0.0]])
    t = directed_pair_features(sub, ["pay", "interact", "friend"])  # interact: a view this data lacks
    assert t.shape == (4, 12)
    out_flag, in_flag, out_w, in_w = t[:, 0:3], t[:, 3:6], t[:, 6:9], t[:, 9:12]
    assert torch.equal(out_flag[:, 0], torch.tensor([1.0, 0, 0, 1]))  # pay u -> v (pay_out) ...
    assert torch.equal(in_flag[:, 0], torch.tensor([0.0, 1, 0, 1]))  # ... is not pay v -> u (pay_in)
    assert torch.allclose(out_w[:, 0], torch.log1p(torch.tensor([3.0, 0, 0, 1])))  # the weight, not a flag
    assert torch.allclose(in_w[:, 0], torch.log1p(torch.tensor([0.0, 5, 0, 1])))
    assert float(t[:, [1, 4, 7, 10]].abs().sum()) == 0.0  # the missing view is zero
    assert torch.equal(out_flag[:, 2], torch.tensor([0.0, 1, 0, 1]))
    sub.pair_out = sub.pair_in = None
    with pytest.raises(ValueError, match="directed_pairs=True"):
        directed_pair_features(sub, list(VIEWS))


@pytest.mark.parametrize("name", ["share_dnn", "treems"])
def test_view_switch_ablates_the_neighbours_not_the_pair_history(name: str):
    """``views`` (the view switches) changes only the sampled neighbours; the pair history stays (directed mode)."""
    from share_synth import share_batch, share_schema

    full, no_pay = build(name, sparse_grad=False), build(name, views=["friend", "share"])
    assert full.input.pair_dim == no_pay.input.pair_dim == 4 * len(full.input.pair_views)
    b = share_batch(share_schema(), 16)
    t_full, t_no_pay = full.input(b).t, no_pay.input(b).t
    k = full.input.pair_dim
    assert torch.equal(t_full[:, :k], t_no_pay[:, :k])
    old, old_no_pay = build(name, pair_mode="symmetric"), build(name, pair_mode="symmetric", views=["friend", "share"])
    assert old.input.pair_dim - old_no_pay.input.pair_dim == 2  # the pre-issue-33 switch also dropped the pair's flags


def test_hook_reads_the_social_table_directed_and_weighted(sim_dir, tmp_path):
    import numpy as np
    import polars as pl

    from unisr.data.features import FeatureEncoder
    from unisr.data.loader import DatasetContext, EventLoader, LoaderConfig
    from unisr.data.schema import DatasetSpec
    from unisr.graph.build import build_or_load
    from unisr.graph.hooks import SocialSpec, hook_for

    enc = FeatureEncoder.fit(sim_dir, DatasetSpec.load(sim_dir))
    hook = hook_for(SocialSpec(("pay",), (2,), directed_pairs=True), sim_dir, enc, None, tmp_path / "g")
    ctx = DatasetContext.open(sim_dir, enc)
    share = [n for n, k in zip(enc.schema.scenarios, enc.schema.scenario_kinds, strict=True) if k == "share"]
    b = next(iter(EventLoader(ctx, "train", LoaderConfig(scenarios=share, eval_batch_size=4096), train=False)
                  .epoch(0)))
    sub = hook(b).subgraph
    assert set(sub.pair_views) >= {"friend", "pay", "share"}  # every view of the data, not only the sampled one
    graph, cached = build_or_load(sim_dir, tmp_path / "g")
    assert cached
    soc = pl.read_parquet(sim_dir / "social.parquet").filter(pl.col("ts") < graph.meta["window_end_ts"])
    raw = np.concatenate([[-1], enc.user_ids])
    src, dst = raw[b.user_index.numpy()], raw[b.target_user_index.numpy()]
    pairs = pl.DataFrame({"row": np.arange(len(src)), "s": src, "d": dst})
    j = sub.pair_views.index("pay")
    pay = soc.filter(pl.col("view") == "pay").group_by("src_user_id", "dst_user_id").agg(pl.col("weight").sum())
    for col, (a, c) in ((sub.pair_out, ("s", "d")), (sub.pair_in, ("d", "s"))):
        want = pairs.join(pay, left_on=[a, c], right_on=["src_user_id", "dst_user_id"], how="left").sort("row")
        assert np.allclose(col[:, j].numpy(), want["weight"].fill_null(0).to_numpy())
    assert (sub.pair_out[:, j] != sub.pair_in[:, j]).any()  # pay is not symmetrised
    assert (sub.pair_out[:, j] > 1).any() or (sub.pair_in[:, j] > 1).any()  # and its weights are kept
