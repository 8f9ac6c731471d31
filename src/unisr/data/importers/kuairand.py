"""KuaiRand-1K / Pure -> canonical dataset: ``tab`` = scenario (Scenario-Wise Rec's joined layout).

Source: ``kuairand_1k.csv`` / ``kuairand_1k_sample.csv`` / ``kuairand.csv``: the log joined with the user and
video features (``user_id, video_id, is_click, play_time_ms, duration_ms, profile_stay_time,
comment_stay_time, tab, user_active_degree, ..., onehot_feat17, video_type, visible_status, server_width,
server_height``). Output: one ``recommend`` scenario per tab value (first-seen ids from 0, named ``tab=<v>``),
``click`` = is_click; the user columns to users, the video columns (duration_ms, video_type, visible_status,
server_width, server_height) to items, play / stay times kept on the events; ts = 0 (this joined layout has no
time); random 8:1:1 split.

Shapes:
    (no tensors) CSV -> events / users / items Parquet tables
"""

from __future__ import annotations

from pathlib import Path

from unisr.data.importers.base import ImportReport
from unisr.data.importers.common import ScenarioMap
from unisr.data.importers.flat import FlatFormat, import_flat
from unisr.data.schema import ScenarioKind

USER_COLS = {c: "int" for c in (
    "user_active_degree", "is_lowactive_period", "is_live_streamer", "is_video_author", "follow_user_num",
    "follow_user_num_range", "fans_user_num", "fans_user_num_range", "friend_user_num", "friend_user_num_range",
    "register_days", "register_days_range")} | {f"onehot_feat{i}": "float" for i in range(18)}
ITEM_COLS = {"duration_ms": "int", "video_type": "int", "visible_status": "float", "server_width": "float",
             "server_height": "float"}
EVENT_COLS = {"play_time_ms": "int", "profile_stay_time": "int", "comment_stay_time": "int"}
FORMAT = FlatFormat(
    name="kuairand", dataset="kuairand",
    files=[("kuairand_1k.csv", ""), ("kuairand_1k_sample.csv", ""), ("kuairand.csv", "")],
    user="user_id", item="video_id", scenario="tab",
    scenarios=lambda: ScenarioMap(ScenarioKind.RECOMMEND, prefix="tab="), click="is_click",
    user_cols=USER_COLS, item_cols=ITEM_COLS, event_cols=EVENT_COLS,
    source={"scenario": "tab", "label": "click = is_click"},
)


def import_kuairand(src: str | Path, out: str | Path) -> ImportReport:
    """Convert KuaiRand (Scenario-Wise Rec joined CSV in ``src``) to a canonical dataset in ``out``."""
    return import_flat(FORMAT, src, out)
