"""Schema-based fuzzing of the served OpenAPI spec (hypothesis): request bodies drawn from each endpoint's
published JSON schema (boundary integers, long lists, unicode scenarios, nulls), and the same bodies with a
field replaced by arbitrary JSON, dropped, or an unknown field added. Every answer is a 2xx or a 4xx, never 5xx."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=6), c, max_size=4),
                    max_leaves=10)


def from_schema(schema: dict, spec: dict, depth: int = 0) -> st.SearchStrategy:
    """A strategy of JSON values valid for ``schema`` (the subset of JSON Schema FastAPI publishes)."""
    if "$ref" in schema:
        return from_schema(spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]], spec, depth)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return st.one_of([from_schema(s, spec, depth) for s in schema[key]])
    if "allOf" in schema:
        return from_schema(schema["allOf"][0], spec, depth)
    t = schema.get("type")
    if t == "null":
        return st.none()
    if t == "integer":
        lo, hi = schema.get("minimum", -(2 ** 63)), schema.get("maximum", 2 ** 63 - 1)
        return st.integers(lo, hi) | st.sampled_from([lo, hi, 0, 1, -1])
    if t == "number":
        return st.floats(allow_nan=False, allow_infinity=False)
    if t == "boolean":
        return st.booleans()
    if t == "string":
        return st.sampled_from(["feed_main", "search_text", "search_similar"]) | st.text(
            max_size=schema.get("maxLength", 20) if schema.get("maxLength", 20) < 20 else 20)
    if t == "array":
        items = from_schema(schema.get("items", {}), spec, depth + 1)
        return st.lists(items, max_size=min(schema.get("maxItems", 64), 64))
    if t == "object" or "properties" in schema:
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        req = {k: from_schema(v, spec, depth + 1) for k, v in props.items() if k in required}
        opt = {k: from_schema(v, spec, depth + 1) for k, v in props.items() if k not in required}
        return st.fixed_dictionaries(req, optional=opt)
    return JSON


def mutated(body: st.SearchStrategy) -> st.SearchStrategy:
    """A valid body with one field replaced by arbitrary JSON, dropped, or an unknown field added."""

    @st.composite
    def draw(d):  # noqa: ANN001, ANN202
        b = dict(d(body))
        how = d(st.sampled_from(["replace", "drop", "extra", "whole"]))
        if how == "whole":
            return d(JSON)
        if how == "extra":
            b[d(st.text(min_size=1, max_size=6))] = d(JSON)
        elif b:
            k = d(st.sampled_from(sorted(b)))
            if how == "drop":
                del b[k]
            else:
                b[k] = d(JSON)
        return b

    return draw()


def body_strategy(spec: dict, path: str) -> st.SearchStrategy:
    schema = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    valid = from_schema(schema, spec)
    return valid | mutated(valid)


@pytest.mark.parametrize(("which", "path", "examples"), [("server", "/v1/rank", 80), ("server", "/v1/retrieve", 80),
                                                         ("server", "/v1/recommend", 80),
                                                         ("graph_server", "/v1/rank", 30)])
def test_fuzzed_bodies_never_get_a_5xx(request, which: str, path: str, examples: int) -> None:
    server = request.getfixturevalue(which)  # the DNN + DSSM bundle, and the SRJGraph run with its sampler
    spec = server.client.get("/openapi.json").json()
    seen: set[int] = set()

    @settings(max_examples=examples, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(body=body_strategy(spec, path))
    def check(body) -> None:  # noqa: ANN001
        r = server.client.post(path, json=body)
        seen.add(r.status_code)
        assert r.status_code < 500, (body, r.status_code, r.text)

    check()
    assert 200 in seen and 422 in seen, seen  # both valid and invalid bodies were exercised
    assert server.client.get("/healthz").status_code == 200
