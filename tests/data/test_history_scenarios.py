"""``data.history_scenarios``: the behaviour sequence keeps only clicks made in the named scenarios, and never a
click at or after the event's own timestamp. Checked on hand-made events against a brute-force reference."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from unisr.data.features import FeatureEncoder
from unisr.data.loader import DatasetContext, EventLoader, LoaderConfig, LoaderConfigError
from unisr.data.schema import DatasetSpec

# (ts, user, scenario_id, item, click); scenario 0 = search_text, 10 = feed_main, 11 = feed_other
EVENTS = [
    (100, 1, 0, 500, 1), (100, 1, 10, 900, 1),  # two clicks at the same second
    (110, 1, 10, 901, 1), (120, 1, 0, 501, 1), (120, 1, 0, 502, 0), (130, 1, 11, 950, 1),
    (140, 1, 0, 503, 1), (150, 1, 10, 902, 1), (160, 1, 0, 504, 0), (160, 1, 10, 903, 0),
    (170, 1, 0, 505, 1), (180, 1, 10, 904, 1), (190, 1, 0, 506, 0),
    (100, 2, 10, 905, 1), (105, 2, 0, 507, 1), (105, 2, 10, 906, 1), (130, 2, 0, 508, 0),
    (131, 2, 11, 951, 1), (140, 2, 10, 907, 0), (150, 2, 0, 509, 1), (151, 2, 0, 510, 0),
    (50, 3, 0, 511, 0), (60, 3, 10, 908, 0),  # a user without any click
]
SCEN = {0: "search_text", 10: "feed_main", 11: "feed_other"}


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    root = tmp_path_factory.mktemp("hist") / "data"
    root.mkdir()
    ev = np.array(EVENTS, dtype=np.int64)
    pq.write_table(pa.table({
        "event_id": pa.array(np.arange(len(ev), dtype=np.int64)),
        "ts": pa.array(ev[:, 0]), "user_id": pa.array(ev[:, 1]),
        "scenario_id": pa.array(ev[:, 2].astype(np.int16)), "item_id": pa.array(ev[:, 3]),
        "click": pa.array(ev[:, 4].astype(np.int8)),
    }), root / "events.parquet", row_group_size=7)
    pq.write_table(pa.table({"user_id": pa.array([1, 2, 3], pa.int64())}), root / "users.parquet")
    items = np.unique(ev[:, 3])
    pq.write_table(pa.table({"item_id": pa.array(items), "brand": pa.array(items % 3)}), root / "items.parquet")
    kinds = {0: "search_text", 10: "recommend", 11: "recommend"}
    DatasetSpec.model_validate({
        "name": "hist", "labels": ["click"],
        "scenarios": [{"id": k, "name": n, "kind": kinds[k]} for k, n in SCEN.items()],
        "split": {"kind": "random", "ratios": [0.5, 0.25, 0.25], "seed": 3},
    }).save(root)
    enc = FeatureEncoder.fit(root, DatasetSpec.load(root))
    return DatasetContext.open(root, enc, history=True)


def _rows(ctx, cfg):
    out = {}
    for b in EventLoader(ctx, ["train", "valid", "test"], cfg, train=False).epoch(0):
        ids, mask = b.sequences["history"]
        scen, _ = b.sequences["history_scenario"]
        for k in range(len(b)):
            m = mask[k].numpy()
            out[int(b.event_id[k])] = (ids[k].numpy()[m].tolist(), scen[k].numpy()[m].tolist())
    return out


def _reference(ctx, eid, allowed, max_len):
    """The last ``max_len`` clicks of the user strictly before the event, in ``allowed`` scenario ids."""
    ts, user = EVENTS[eid][0], EVENTS[eid][1]
    clicks = sorted((e[0], j) for j, e in enumerate(EVENTS)
                    if e[1] == user and e[4] == 1 and e[0] < ts and e[2] in allowed)
    items = [EVENTS[j][3] for _, j in clicks][-max_len:]
    return ctx.encoder.item_index(np.array(items, np.int64)).tolist()


@pytest.mark.parametrize("names", [None, ["search_text"], ["feed_main"], ["search_text", "feed_main"]])
def test_history_matches_reference(ctx, names):
    allowed = set(SCEN) if names is None else {k for k, n in SCEN.items() if n in names}
    rows = _rows(ctx, LoaderConfig(history_len=3, history_scenarios=names))
    assert len(rows) == len(EVENTS)
    allowed_idx = {sorted(SCEN).index(k) for k in allowed}  # scenario index = rank of the id
    for eid, (items, scen) in rows.items():
        # same items in the same order (oldest first); clicks at the same second as the event never leak
        assert items == _reference(ctx, eid, allowed, 3), eid
        assert set(scen) <= allowed_idx


def test_excluded_scenario_never_appears(ctx):
    rows = _rows(ctx, LoaderConfig(history_len=25, history_scenarios=["search_text"]))
    feed_items = set(ctx.encoder.item_index(np.array([e[3] for e in EVENTS if e[2] != 0])).tolist())
    search_items = set(ctx.encoder.item_index(np.array([e[3] for e in EVENTS if e[2] == 0])).tolist())
    seen = {i for items, _ in rows.values() for i in items}
    assert seen and not seen & feed_items and seen <= search_items
    # the event at ts=100 of user 1 has a search click at the very same second: not in its history
    assert rows[0][0] == [] and rows[1][0] == []


def test_only_scenario_rows_with_own_history(ctx):
    """Single-scenario form: feed_main events with feed_main history only."""
    cfg = LoaderConfig(history_len=25, scenarios=["feed_main"], history_scenarios=["feed_main"])
    rows = _rows(ctx, cfg)
    assert set(rows) == {j for j, e in enumerate(EVENTS) if e[2] == 10}
    assert all(set(s) <= {1} for _, s in rows.values())
    assert rows[11][0] == ctx.encoder.item_index(np.array([900, 901, 902])).tolist()  # user 1 at ts=180


def test_unknown_history_scenario(ctx):
    with pytest.raises(LoaderConfigError, match="data.history_scenarios"):
        EventLoader(ctx, "train", LoaderConfig(history_len=2, history_scenarios=["nope"]), train=False)
