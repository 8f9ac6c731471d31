"""Global labels (USR eq. 9) on hand-made events, and attached to loader batches."""

import numpy as np
import polars as pl

from synth import make_dataset
from unisr.data.features import FeatureEncoder
from unisr.data.global_labels import GlobalLabelIndex
from unisr.data.loader import DatasetContext, EventLoader, LoaderConfig
from unisr.data.schema import DatasetSpec


def test_hand_made_events():
    # (user, item, click, conversion): the pair (1, 10) is clicked in one scenario and only shown in another
    u = np.array([1, 1, 1, 2, 2, 3, 3])
    i = np.array([10, 10, 11, 10, 12, 13, 13])
    click = np.array([1, 0, 0, 0, 1, 1, 0])
    conv = np.array([0, 0, 1, 0, 1, 0, 0])  # (1, 11) converts without a click: not a click-and-buy
    idx = GlobalLabelIndex.from_arrays(u, i, click, conv)
    gc, gb = idx.lookup(np.array([1, 1, 2, 2, 3, 4]), np.array([10, 11, 10, 12, 13, 10]))
    assert gc.tolist() == [1, 0, 0, 1, 1, 0]
    assert gb.tolist() == [0, 0, 0, 1, 0, 0]
    arrays = {"user_index": u, "item_index": i}
    idx.attach(arrays)
    assert arrays["label/global_click"].tolist() == [1, 1, 0, 0, 1, 1, 1]
    assert (arrays["label/global_click"] >= click).all()


def test_loader_attaches_global_labels_of_its_own_window_and_scenarios(tmp_path):
    root = make_dataset(tmp_path / "d", n_events=3000, n_users=30, n_items=20)
    spec = DatasetSpec.load(root)
    enc = FeatureEncoder.fit(root, spec)
    ctx = DatasetContext.open(root, enc)
    cfg = LoaderConfig(global_labels=True, scenarios=["scen0", "scen1"], batch_size=512)
    loader = EventLoader(ctx, "train", cfg, train=False)
    got = []
    for b in loader.epoch(0):
        assert set(b.labels) >= {"click", "global_click", "global_buy"}
        assert (b.labels["global_click"] >= b.labels["click"]).all()
        assert (b.labels["global_buy"] >= b.labels["click"] * b.labels["conversion"]).all()
        got.append(pl.DataFrame({"event_id": b.event_id.numpy(), "gc": b.labels["global_click"].numpy(),
                                 "gb": b.labels["global_buy"].numpy()}))
    got = pl.concat(got)
    # reference with polars over the same window (train split, scenarios scen0/scen1)
    ev = pl.read_parquet(root / "events.parquet").filter(pl.col("event_id").is_in(got["event_id"].to_list()))
    assert ev["scenario_id"].unique().sort().to_list() == [10, 11]
    ref = ev.with_columns(
        gc_ref=pl.col("click").max().over("user_id", "item_id"),
        gb_ref=(pl.col("click") * pl.col("conversion")).max().over("user_id", "item_id"),
    ).join(got, on="event_id")
    assert (ref["gc"] == ref["gc_ref"].cast(pl.Float32)).all()
    assert (ref["gb"] == ref["gb_ref"].cast(pl.Float32)).all()
    assert ref["gc"].sum() > ref["click"].sum()  # pairs clicked in the other scenario add positives
    assert "global_click" not in next(iter(EventLoader(ctx, "train", LoaderConfig(), train=False).epoch(0))).labels
