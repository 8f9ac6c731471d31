"""The request and response bodies of ``unisr serve`` (CONTRACT.md "Serving"), as pydantic models: FastAPI
validates every request against them (422 naming the field) and publishes them in the OpenAPI spec.

Integers are bounded to int64 (ids, ``ts``) and int32 (query terms); list lengths are bounded so that one
request cannot ask for unbounded work (the 1 MiB body limit bounds the rest).

Shapes:
    RankRequest.item_ids [N <= MAX_CANDIDATES] -> RankResponse.scores [N]
    RetrieveRequest.k -> RetrieveResponse.items [<= k]; Query.emb [Q <= MAX_EMB]
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

Int64 = Annotated[int, Field(ge=-(2 ** 63), le=2 ** 63 - 1)]
Int32 = Annotated[int, Field(ge=-(2 ** 31), le=2 ** 31 - 1)]
MAX_CANDIDATES = 10_000
MAX_K = 10_000
MAX_EMB = 4096  # query.emb values


class Query(BaseModel):
    """A query by its terms (raw token ids of ``queries.tokens``) and/or a logged ``query_id``; a visual query by
    its embedding ``emb`` (the width of ``queries.emb``; replaces the logged query's)."""

    model_config = ConfigDict(extra="forbid")
    tokens: list[Int32] | None = Field(default=None, max_length=1024)
    query_id: Int64 | None = None
    emb: list[Annotated[float, Field(allow_inf_nan=False)]] | None = Field(default=None, max_length=MAX_EMB)


class Context(BaseModel):
    """What every endpoint knows of the request (``ts`` default: the snapshot's time)."""

    model_config = ConfigDict(extra="forbid")
    scenario: str = Field(max_length=256)
    user_id: Int64 | None = None
    query: Query | None = None
    trigger_item_id: Int64 | None = None
    target_user_id: Int64 | None = None
    ts: Int64 | None = None


class RankRequest(Context):
    """Candidate items; or, in a share scenario, candidate receivers ``target_user_ids`` of the shared item
    ``item_ids`` (one item for all, or one per receiver)."""

    item_ids: list[Int64] = Field(max_length=MAX_CANDIDATES)
    target_user_ids: list[Int64] | None = Field(default=None, max_length=MAX_CANDIDATES)

    @model_validator(mode="after")
    def _receivers(self) -> RankRequest:
        t = self.target_user_ids
        if t is not None and len(self.item_ids) not in (1, len(t)):
            raise ValueError(f"item_ids: {len(self.item_ids)} items for {len(t)} target_user_ids "
                             "(give one item, or one per target user)")
        return self


class RankResponse(BaseModel):
    scores: list[float]


class RetrieveRequest(Context):
    k: int = Field(default=100, ge=1, le=MAX_K)
    exclude_item_ids: list[Int64] = Field(default_factory=list, max_length=MAX_CANDIDATES)


class Item(BaseModel):
    item_id: int
    score: float


class RetrieveResponse(BaseModel):
    items: list[Item]


class RecommendRequest(RetrieveRequest):
    candidates: int = Field(default=200, ge=1, le=MAX_CANDIDATES)


class RankedItem(Item):
    retrieval_score: float


class RecommendResponse(BaseModel):
    items: list[RankedItem]


class Health(BaseModel):
    status: str
    model: str
    version: str
    runs: dict[str, str] = Field(default_factory=dict)  # role -> model name
    generation: int = 0  # bumped by every hot reload (the same number in every worker of --workers N)
    sha256: dict[str, str] = Field(default_factory=dict)  # role -> the bundle's manifest sha256 (a run: weights')
    pid: int = 0  # the worker process that answered


class ReloadRequest(BaseModel):
    """Sources of the new generation (default: the ones served now, read again)."""

    model_config = ConfigDict(extra="forbid")
    runs: list[str] = Field(default_factory=list, max_length=2)
    bundles: list[str] = Field(default_factory=list, max_length=2)
