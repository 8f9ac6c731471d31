"""The suite registry: ``@suite("name")`` registers a suite function; ``load_builtin_suites`` imports every
``unisr.bench.suite_*`` module.

Shapes:
    (no tensors) suite name -> function(out, data, seeds, sets, models, console) -> results dict
"""

from __future__ import annotations

from collections.abc import Callable


class SuiteError(ValueError):
    """The suite cannot run with what it was given (missing data ...); the message says what to do."""


SUITES: dict[str, Callable[..., dict]] = {}


def suite(name: str):
    def deco(fn):
        SUITES[name] = fn
        return fn

    return deco


def load_builtin_suites() -> None:
    """Import every ``unisr.bench.suite_*`` module so that its ``@suite`` decorators run."""
    import importlib
    import pkgutil

    import unisr.bench as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        if mod.name.startswith("suite_"):
            importlib.import_module(f"unisr.bench.{mod.name}")
