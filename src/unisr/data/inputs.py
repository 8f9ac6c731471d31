"""Which inputs the feature encoder gives every model (``data.inputs`` of the run config), by input version.

Version 2 (the default, issue 31) gives every model what the logs carry:

- **shared vocabularies** (``vocabularies``): columns whose values are ids of one space share one vocabulary
  and, in every model, one embedding table: by default the query terms and the item title terms
  (``terms``), and a query's category and the item's category path (``categories``). A query and a title
  with the same term then give that term the same vector, which is what a query-title match needs;
- **the query's category** (``query_category``, from ``queries.category``): an event-level one-id sequence
  ``query.category`` in the ``categories`` vocabulary;
- **the trigger item's content** (``trigger_content``, similar-product search): the trigger item's category
  path and title as event-level sequences ``trigger.category_path`` / ``trigger.title_tokens`` (the
  candidate's vocabularies and tables) and its item vectors as ``trigger.<column>`` (the candidate's
  projections), beside the ``trigger_item_id`` field;
- **item vectors** (``item_vectors``): fixed-size float columns of the items (``image_emb``, the scenario's
  exposed-content embeddings ``emb_search_*``) as ``item.<column>``; a visual query's ``queries.emb`` lies in
  the ``image_emb`` space (``query.emb``), so models project the three with one matrix;
- **item age** (``item_age``): ``event.item_age`` (``FeatureEncoder.fit(item_age=True)``).

Version 3 (the default) is version 2 plus **history counters** (``counters``, ``counter_days``): impressions,
clicks and a smoothed CTR lift per item, item x scenario, user and user x item over the days before each
event, counted on the background + train splits only (``unisr.data.counters``).

Version 1 is the input set before issue 31 (separate tables, none of the above); records trained with it keep
their meaning under ``data.inputs.version=1``.

Shapes:
    (no tensors) InputsConfig -> Inputs (the effective switches)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, field_validator

VERSIONS = (1, 2, 3)
DEFAULT_VOCABULARIES = {"terms": ["items.title_tokens", "queries.tokens"],
                        "categories": ["items.category_path", "queries.category"]}
DEFAULT_ITEM_VECTORS = ["image_emb", "emb_search_text", "emb_search_visual", "emb_search_similar"]
# vector spaces: a query's embedding is compared with this item column (a visual query is an image)
QUERY_VECTOR_SPACE = "image_emb"
DEFAULT_COUNTERS = ["item", "item_scenario", "user", "user_item"]


class InputsConfig(BaseModel):
    """``data.inputs``: the input version and, for version 2, each input's switch."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(3, description="1 = the inputs before issue 31; 2 = the switches below but counters; "
                                        "3 = all the switches below")
    vocabularies: dict[str, list[str]] = Field(default_factory=lambda: {k: list(v) for k, v in
                                                                        DEFAULT_VOCABULARIES.items()})
    query_category: bool = True
    trigger_content: bool = True
    item_vectors: list[str] = Field(default_factory=lambda: list(DEFAULT_ITEM_VECTORS))
    item_age: bool = True
    counters: list[str] = Field(default_factory=lambda: list(DEFAULT_COUNTERS),
                                description="key sets of the history counters (version 3; unisr.data.counters)")
    counter_days: int = Field(14, ge=1, description="days of history each counter sums")

    @field_validator("counters")
    @classmethod
    def _known_key_sets(cls, v: list[str]) -> list[str]:
        from unisr.data.counters import KEY_SETS

        bad = [k for k in v if k not in KEY_SETS]
        if bad:
            raise ValueError(f"unknown key set(s) {bad}; expected some of {list(KEY_SETS)}")
        return v

    def effective(self) -> Inputs:
        if self.version not in VERSIONS:
            raise ValueError(f"data.inputs.version: {self.version} is not one of {VERSIONS}")
        if self.version == 1:
            return Inputs()
        counters = list(self.counters) if self.version >= 3 else []
        return Inputs({k: list(v) for k, v in self.vocabularies.items()}, self.query_category,
                      self.trigger_content, list(self.item_vectors), self.item_age, counters, self.counter_days)


@dataclass(frozen=True)
class Inputs:
    """The effective input switches (version 1: all off)."""

    vocabularies: dict[str, list[str]] = field(default_factory=dict)
    query_category: bool = False
    trigger_content: bool = False
    item_vectors: list[str] = field(default_factory=list)
    item_age: bool = False
    counters: list[str] = field(default_factory=list)
    counter_days: int = 14

    def vocab_of(self, table: str, column: str) -> str | None:
        """The shared vocabulary of ``table.column``, or None (its own)."""
        return next((name for name, cols in self.vocabularies.items() if f"{table}.{column}" in cols), None)

    def as_dict(self) -> dict:
        return {"vocabularies": self.vocabularies, "query_category": self.query_category,
                "trigger_content": self.trigger_content, "item_vectors": self.item_vectors,
                "item_age": self.item_age, "counters": self.counters, "counter_days": self.counter_days}
