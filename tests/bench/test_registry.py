"""Tests of ``unisr.bench.registry``: every ``suite_*`` module registers its suite."""

from __future__ import annotations

from unisr.bench.registry import SUITES, load_builtin_suites, suite


def test_builtin_suites_are_registered():
    load_builtin_suites()
    assert {"swr-movielens", "srjgraph", "usr", "treems"} <= set(SUITES)


def test_the_decorator_registers_by_name():
    @suite("_test_only")
    def fn(**kw) -> dict:
        return {"ok": True}

    try:
        assert SUITES["_test_only"]() == {"ok": True}
    finally:
        del SUITES["_test_only"]
