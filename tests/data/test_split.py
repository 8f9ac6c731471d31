import numpy as np

from unisr.data.schema import RandomSplit, TimeSplit
from unisr.data.split import SPLIT_CODES, SplitAssigner


def test_random_split_ratios_and_determinism():
    ids = np.arange(200_000, dtype=np.int64)
    a = SplitAssigner(RandomSplit(ratios=(0.8, 0.1, 0.1), seed=2022))
    codes = a.assign(ids, ids)
    frac = np.bincount(codes, minlength=4)[1:] / len(ids)
    assert np.allclose(frac, [0.8, 0.1, 0.1], atol=0.005)
    assert np.array_equal(codes, a.assign(ids, ids))
    # chunked assignment equals whole assignment (streamable)
    assert np.array_equal(np.concatenate([a.assign(ids[:777], ids[:777]), a.assign(ids[777:], ids[777:])]), codes)
    other = SplitAssigner(RandomSplit(ratios=(0.8, 0.1, 0.1), seed=7)).assign(ids, ids)
    assert (other != codes).mean() > 0.2


def test_time_split_windows_in_order():
    ts = np.arange(0, 24 * 86400, 60, dtype=np.int64)
    a = SplitAssigner(TimeSplit(), ts_bounds=(0, 24 * 86400))
    codes = a.assign(ts, ts)
    # windows are consecutive and in order background < train < valid < test
    assert (np.diff(codes) >= 0).all()
    days = {name: (codes == c).sum() * 60 / 86400 for name, c in SPLIT_CODES.items()}
    assert round(days["background"]) == 14 and round(days["train"]) == 7
    assert round(days["valid"]) == 1 and round(days["test"]) == 2


def test_random_split_by_request_keeps_lists_whole():
    req = np.repeat(np.arange(5000, dtype=np.int64), 10)
    eid = np.arange(len(req), dtype=np.int64)
    a = SplitAssigner(RandomSplit(ratios=(0.6, 0.2, 0.2), seed=1, key="request_id"))
    codes = a.assign(eid, eid, None, req)
    per_req = codes.reshape(5000, 10)
    assert (per_req == per_req[:, :1]).all()
    assert abs((codes == SPLIT_CODES["test"]).mean() - 0.2) < 0.03
