"""data/counters.py: the history counters (inputs version 3) against a brute-force count on real Parquet files."""

import numpy as np
import polars as pl
import pytest

from synth import make_dataset
from unisr.data.counters import DAY, SMOOTHING, CounterIndex, feature_names
from unisr.data.features import FeatureEncoder
from unisr.data.inputs import InputsConfig
from unisr.data.loader import DatasetContext
from unisr.data.reader import iter_row_groups
from unisr.data.schema import DatasetSpec

SPLIT = {"kind": "time", "proportions": {"background": 10, "train": 8, "valid": 2, "test": 4}}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = make_dataset(tmp_path_factory.mktemp("counters") / "d", n_events=5000, n_items=40, n_users=30,
                        split=SPLIT)
    enc = FeatureEncoder.fit(root, DatasetSpec.load(root), inputs=InputsConfig(counter_days=5).effective())
    ctx = DatasetContext.open(root, enc)
    ev = pl.concat([pl.from_arrow(t) for _, _, t in iter_row_groups(root, "events", None)])
    code = ctx.assigner.assign(ev["event_id"].to_numpy(), ev["ts"].to_numpy())
    return root, enc, ctx, ev.with_columns(split=pl.Series(code), day=pl.col("ts") // DAY)


def test_version_3_adds_the_counters_and_version_2_has_none(data):
    root, enc, _, _ = data
    assert enc.counters is not None
    assert set(feature_names(enc.counters.key_sets)) <= set(enc.schema.dense)
    two = FeatureEncoder.fit(root, DatasetSpec.load(root), inputs=InputsConfig(version=2).effective())
    assert two.counters is None and not any(d.startswith("event.count.") for d in two.schema.dense)


def test_counts_equal_a_brute_force_count_of_earlier_history_days(data):
    _, enc, ctx, ev = data
    c = enc.counters
    hist = ev.filter(pl.col("split") <= 1)  # background 0, train 1: the only counted events
    end = int(hist["day"].max()) + 1
    rows = ev.sample(300, seed=0)
    u = enc.user_index(rows["user_id"].to_numpy())
    i = enc.item_index(rows["item_id"].to_numpy())
    s = enc.scenario_index(rows["scenario_id"].to_numpy().astype(np.int64))
    feats = c.features(u, i, s, rows["ts"].to_numpy())
    names = c.names
    for r, row in enumerate(rows.iter_rows(named=True)):
        hi = min(row["day"], end)
        w = hist.filter((pl.col("day") < hi) & (pl.col("day") >= hi - c.window))
        for key, cond in (("item", pl.col("item_id") == row["item_id"]),
                          ("item_scenario", (pl.col("item_id") == row["item_id"])
                           & (pl.col("scenario_id") == row["scenario_id"])),
                          ("user", pl.col("user_id") == row["user_id"]),
                          ("user_item", (pl.col("user_id") == row["user_id"]) & (pl.col("item_id") == row["item_id"]))):
            g = w.filter(cond)
            views, clicks = len(g), int(g["click"].sum())
            got_v = np.expm1(feats[r, names.index(f"event.count.{key}.views")] * c.scale[f"{key}.views"])
            got_c = np.expm1(feats[r, names.index(f"event.count.{key}.clicks")] * c.scale[f"{key}.clicks"])
            assert got_v == pytest.approx(views, abs=1e-3), (key, row)
            assert got_c == pytest.approx(clicks, abs=1e-3), (key, row)
            lift = np.log((clicks + SMOOTHING * c.prior) / (views + SMOOTHING) / c.prior)
            assert feats[r, names.index(f"event.count.{key}.lift")] == pytest.approx(lift, abs=1e-4)


def test_no_valid_or_test_label_reaches_a_counter(data):
    """Flipping every valid / test click leaves every row's counters unchanged."""
    root, enc, ctx, ev = data
    flipped = ev.with_columns(click=pl.when(pl.col("split") >= 2).then(1 - pl.col("click")).otherwise(pl.col("click"))
                              .cast(pl.Int8))
    out = root.parent / "flipped"
    out.mkdir(exist_ok=True)
    for f in root.iterdir():
        if f.name != "events.parquet":
            (out / f.name).write_bytes(f.read_bytes())
    flipped.drop("split", "day").write_parquet(out / "events.parquet", row_group_size=1000)
    again = FeatureEncoder.fit(out, DatasetSpec.load(out), inputs=InputsConfig(counter_days=5).effective())
    u, i = enc.user_index(ev["user_id"].to_numpy()), enc.item_index(ev["item_id"].to_numpy())
    s = enc.scenario_index(ev["scenario_id"].to_numpy().astype(np.int64))
    np.testing.assert_array_equal(enc.counters.features(u, i, s, ev["ts"].to_numpy()),
                                  again.counters.features(u, i, s, ev["ts"].to_numpy()))


def test_loader_batches_carry_the_counters_and_the_encoder_round_trips(data, tmp_path):
    _, enc, ctx, ev = data
    t = next(iter(iter_row_groups(ctx.root, "events", None)))[2]
    chunk = ctx.encode(t, {0, 1, 2, 3})
    cols = [enc.schema.dense.index(n) for n in enc.counters.names]
    a = chunk.arrays
    direct = enc.counters.features(a["user_index"], a["item_index"], a["scenario_id"], a["ts"])
    np.testing.assert_array_equal(a["dense"][:, cols], direct)
    assert np.isfinite(a["dense"]).all() and (a["dense"][:, cols] != 0).any()
    enc.save(tmp_path / "enc")
    back = FeatureEncoder.load(tmp_path / "enc")
    np.testing.assert_array_equal(back.counters.features(a["user_index"], a["item_index"], a["scenario_id"], a["ts"]),
                                  direct)


def test_bad_counter_settings_are_named():
    with pytest.raises(ValueError, match="unknown key set"):
        CounterIndex.build(".", None, ["nope"], 3, None, None, None, 1, 1)
    with pytest.raises(ValueError, match="counter_days"):
        InputsConfig(counter_days=0)


def test_the_key_ranges_build_the_same_counters_over_many_row_groups(tmp_path):
    # the build sums each row group's (key, day) counts in key ranges (n_users known) or in one range (unknown):
    # the same arrays, over row groups that share keys
    from unisr.data.gate import load_spec
    from unisr.data.reader import read_table
    from unisr.data.split import SplitAssigner
    from unisr.data.vocab import Vocabulary, to_numpy

    root = make_dataset(tmp_path / "d", n_events=4000, n_items=300, n_users=200, split=SPLIT, row_group_size=350)
    spec = load_spec(root)
    users = np.unique(to_numpy(read_table(root, "users")["user_id"]))
    items = np.unique(to_numpy(read_table(root, "items")["item_id"]))
    scen = np.array(sorted(s.id for s in spec.scenarios), np.int64)
    args = (root, SplitAssigner.for_dataset(root, spec.split), ["item", "item_scenario", "user", "user_item"], 5,
            Vocabulary(users).lookup, Vocabulary(items).lookup, lambda raw: Vocabulary(scen).lookup(raw) - 1,
            len(items), len(scen))
    ranged, single = CounterIndex.build(*args, n_users=len(users)), CounterIndex.build(*args)
    assert ranged.scale == single.scale and (ranged.day0, ranged.end) == (single.day0, single.end)
    for k, c in ranged.counters.items():
        assert len(c.keys) > 0 and c.clicks.dtype == np.uint32
        for part in ("pairs", "keys", "clicks", "views"):
            assert np.array_equal(getattr(c, part), getattr(single.counters[k], part)), (k, part)
        assert np.all(np.diff(c.pairs) > 0) and np.all(np.diff(c.keys) > 0)  # sorted across the ranges
