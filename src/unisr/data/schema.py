"""The canonical dataset format (CONTRACT.md), defined in one place.

A canonical dataset is a folder holding ``dataset.yaml`` and Parquet tables. Each table has required columns
with an exact Arrow type and optional columns (some typed, some free such as user features). Everything
that reads, writes or validates a dataset takes its column names and types from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Literal

import pyarrow as pa
import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator


class ScenarioKind(StrEnum):
    SEARCH_TEXT = "search_text"
    SEARCH_VISUAL = "search_visual"
    SEARCH_SIMILAR = "search_similar"
    RECOMMEND = "recommend"
    SHARE = "share"


QUERY_KINDS = ("text", "visual", "trigger")
SPLITS = ("background", "train", "valid", "test")


@dataclass(frozen=True)
class TableSchema:
    """Columns of one canonical table: required (name -> type) and typed optional ones."""

    name: str  # file stem, e.g. "events"
    required: dict[str, pa.DataType]
    optional: dict[str, pa.DataType] = field(default_factory=dict)
    key: str | None = None  # column that must be unique and non-null
    free_columns: bool = False  # extra feature columns are allowed (users, items)

    @property
    def filename(self) -> str:
        return f"{self.name}.parquet"

    def type_of(self, column: str) -> pa.DataType | None:
        return self.required.get(column) or self.optional.get(column)

    def arrow_schema(self, columns: list[str] | None = None) -> pa.Schema:
        cols = dict(self.required)
        for c in columns or []:
            if c in self.optional:
                cols[c] = self.optional[c]
        return pa.schema(list(cols.items()))


EVENTS = TableSchema(
    name="events",
    required={
        "event_id": pa.int64(),
        "ts": pa.int64(),
        "user_id": pa.int64(),
        "scenario_id": pa.int16(),
        "item_id": pa.int64(),
        "click": pa.int8(),
    },
    optional={
        "query_id": pa.int64(),
        "trigger_item_id": pa.int64(),
        "target_user_id": pa.int64(),
        "request_id": pa.int64(),
        "session_id": pa.int64(),
        "position": pa.int16(),
        "conversion": pa.int8(),
        "split": pa.string(),
    },
    key="event_id",
)

USERS = TableSchema(name="users", required={"user_id": pa.int64()}, key="user_id", free_columns=True)

ITEMS = TableSchema(
    name="items",
    required={"item_id": pa.int64()},
    optional={
        "category_path": pa.list_(pa.int32()),
        "brand": pa.int32(),
        "shop": pa.int32(),
        "price_level": pa.int8(),
        "title_tokens": pa.list_(pa.int32()),
        "image_emb": pa.list_(pa.float32()),
    },
    key="item_id",
    free_columns=True,
)

QUERIES = TableSchema(
    name="queries",
    required={"query_id": pa.int64(), "kind": pa.string()},
    optional={
        "tokens": pa.list_(pa.int32()),
        "emb": pa.list_(pa.float32()),
        "category": pa.int32(),
    },
    key="query_id",
    free_columns=True,
)

SOCIAL = TableSchema(
    name="social",
    required={"src_user_id": pa.int64(), "dst_user_id": pa.int64(), "view": pa.string()},
    optional={"weight": pa.float32(), "ts": pa.int64()},
)

TRUTH = TableSchema(
    name="truth",
    required={"event_id": pa.int64(), "p_click": pa.float32()},
    optional={"p_conversion": pa.float32(), "p_click_no_position": pa.float32()},
    key="event_id",
)

TABLES: dict[str, TableSchema] = {t.name: t for t in (EVENTS, USERS, ITEMS, QUERIES, SOCIAL, TRUTH)}
REQUIRED_TABLES = ("events", "users", "items")

# Event columns that reference another table: column -> (table, key column).
REFERENCES: dict[str, tuple[str, str]] = {
    "user_id": ("users", "user_id"),
    "item_id": ("items", "item_id"),
    "query_id": ("queries", "query_id"),
    "trigger_item_id": ("items", "item_id"),
    "target_user_id": ("users", "user_id"),
}
LABEL_COLUMNS = ("click", "conversion")


# ----------------------------------------------------------------------------------------- dataset.yaml
class ScenarioSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: int = Field(ge=0, le=32767)
    name: str
    kind: ScenarioKind
    tree_path: list[str] | None = None


class RandomSplit(BaseModel):
    """Random split by a seeded hash of ``key`` (streamable; statistically a random permutation).

    ``key: event_id`` splits impressions independently (Scenario-Wise Rec); ``request_id`` keeps each shown
    list whole (otherwise a request's click can land in train and its unclicked neighbours in test, which
    leaks through user features); ``user_id`` splits users.
    """

    model_config = ConfigDict(extra="forbid")
    kind: Literal["random"] = "random"
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)  # train / valid / test
    seed: int = 2022
    key: Literal["event_id", "request_id", "user_id", "session_id"] = "event_id"

    @model_validator(mode="after")
    def _sum_to_one(self) -> RandomSplit:
        if abs(sum(self.ratios) - 1.0) > 1e-6:
            raise ValueError(f"split.ratios must sum to 1, got {self.ratios}")
        return self


class TimeSplit(BaseModel):
    """Consecutive time windows over [min ts, max ts], in proportions (SRJGraph: 14/7/1/2 days)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["time"] = "time"
    proportions: dict[str, float] = Field(
        default_factory=lambda: {"background": 14, "train": 7, "valid": 1, "test": 2}
    )

    @model_validator(mode="after")
    def _known(self) -> TimeSplit:
        bad = [k for k in self.proportions if k not in SPLITS]
        if bad:
            raise ValueError(f"split.proportions: unknown window(s) {bad}; allowed {SPLITS}")
        return self


class ColumnSplit(BaseModel):
    """The events carry a ``split`` column (e.g. an official split)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["column"] = "column"


SplitRule = RandomSplit | TimeSplit | ColumnSplit


class FeatureDecl(BaseModel):
    """Optional declaration of a feature column of users/items (how to encode it)."""

    model_config = ConfigDict(extra="forbid")
    table: Literal["users", "items", "events", "queries"]
    column: str
    type: Literal["categorical", "dense", "sequence"]
    transform: Literal["none", "minmax", "log"] = "none"
    hash_buckets: int | None = None
    max_len: int | None = None
    embed_dim: int | None = None


class DatasetSpec(BaseModel):
    """Contents of ``dataset.yaml``."""

    model_config = ConfigDict(extra="allow")

    name: str
    scenarios: list[ScenarioSpec]
    labels: list[str] = Field(default_factory=lambda: ["click"])
    split: SplitRule = Field(default_factory=RandomSplit, discriminator="kind")
    features: list[FeatureDecl] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> DatasetSpec:
        ids = [s.id for s in self.scenarios]
        if len(set(ids)) != len(ids):
            raise ValueError(f"scenarios: duplicate scenario ids {sorted(ids)}")
        names = [s.name for s in self.scenarios]
        if len(set(names)) != len(names):
            raise ValueError("scenarios: duplicate scenario names")
        for lab in self.labels:
            if lab not in LABEL_COLUMNS:
                raise ValueError(f"labels: {lab!r} is not a label column {LABEL_COLUMNS}")
        return self

    @property
    def scenario_names(self) -> dict[int, str]:
        return {s.id: s.name for s in self.scenarios}

    def scenario_by_name(self, name: str) -> ScenarioSpec:
        for s in self.scenarios:
            if s.name == name:
                return s
        raise KeyError(name)

    # ------------------------------------------------------------------ io
    @classmethod
    def load(cls, root: str | Path) -> DatasetSpec:
        path = Path(root) / "dataset.yaml"
        with open(path) as f:
            return cls.model_validate(yaml.safe_load(f))

    def save(self, root: str | Path) -> Path:
        path = Path(root) / "dataset.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w") as f:
            yaml.safe_dump(self.model_dump(mode="json", exclude_none=True), f, sort_keys=False)
        return path


def table_path(root: str | Path, table: str) -> Path | None:
    """The file ``<table>.parquet`` or the folder of parts ``<table>.parquet/`` / ``<table>/``; None if absent."""
    root = Path(root)
    for cand in (root / f"{table}.parquet", root / table):
        if cand.exists():
            return cand
    return None
