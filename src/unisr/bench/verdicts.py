"""Claim verdicts: one rule for "a beats b" over seeds (margin + seed-paired t-test), and its texts.

Every suite states its claims through :func:`compare` (a :class:`Comparison`) and :func:`verdict`; there is no
other significance helper in ``unisr.bench``.

Shapes:
    (no tensors) per-seed metric values -> Comparison(ok, t, p, texts)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from unisr.evaluate.stats import mean_std, paired_ttest

# a switch / balance claim holds only by at least this much (AUC, normalised entropy, gate weight): reports
# print 4 / 3 decimals, and TreeMS with and without L_aux differed by 4e-5 AUC (gates within 0.005 of uniform)
MIN_MARGIN = 5e-4
NAN = float("nan")


def clearly_greater(a: float, b: float, margin: float = MIN_MARGIN) -> bool:
    """a exceeds b by at least ``margin`` (a one-seed claim's "holds"; ties and rounding noise do not)."""
    return a - b >= margin


def claim_count(lines: Sequence[Sequence[str]]) -> str:
    """``"H of T paper claims hold"`` over (claim, verdict, numbers) lines (``n/a`` lines are not tested)."""
    held = sum(v == "holds" for _, v, _ in lines)
    tested = sum(v in ("holds", "does not hold") for _, v, _ in lines)
    return f"{held} of {tested} paper claims hold"


def verdict(ok: bool | None) -> str:
    """A claim's verdict word: ``holds`` / ``does not hold``, ``n/a`` when it could not be tested."""
    return "n/a" if ok is None else ("holds" if ok else "does not hold")


@dataclass(frozen=True)
class Comparison:
    """The outcome of :func:`compare`: ``ok`` (a wins), the paired test (``t``, ``p``; NaN without one) and
    ``text`` (the test in words, e.g. ``paired t-test t=2.11, p=0.17`` or ``no paired test (...): margin
    only``). ``seeds_note`` names the common seeds when the rows have others (seed-keyed input only)."""

    ok: bool
    t: float
    p: float
    text: str
    seeds_note: str = ""

    def __iter__(self):  # ``ok, text = compare(a, b)``
        return iter((self.ok, self.text))

    @property
    def short(self) -> str:
        """The test in short for a claim line listing many: ``p=0.012`` (+ the common seeds), or ``margin
        only`` where there is no test."""
        return "margin only" if self.p != self.p else f"p={self.p:.3g}{self.seeds_note}"

    @property
    def ttest(self) -> str:
        """The t-test alone for a table cell: ``t=2.11, p=0.17`` or ``n/a``."""
        return "n/a" if self.p != self.p else f"t={self.t:.2f}, p={self.p:.3g}"


def _compare_lists(a: Sequence[float], b: Sequence[float], require_test: bool) -> Comparison:
    t, p = paired_ttest(list(a), list(b))
    ahead = clearly_greater(mean_std(list(a))[0], mean_std(list(b))[0])
    if p != p:
        why = "the differences do not vary" if len(a) == len(b) > 1 else f"{len(a)} vs {len(b)} seeds"
        return Comparison(ahead and not require_test, t, p, f"no paired test ({why}): margin only")
    return Comparison(ahead and p < 0.05, t, p, f"paired t-test t={t:.2f}, p={p:.3g}")


def compare(a: Sequence[float] | Mapping[int, float], b: Sequence[float] | Mapping[int, float],
            require_test: bool = False) -> Comparison:
    """Do the seeds of ``a`` beat those of ``b``? The mean ahead by at least :data:`MIN_MARGIN` and, with >= 2
    paired seeds, a paired t-test at p < 0.05 (a 0.0004 lead at p = 0.3 is a tie, not a win).
    ``require_test``: no paired test (one seed, other seed counts) is no win (a claim of significance).

    ``a`` and ``b`` are lists in seed order over the same seeds, or ``{seed: value}`` maps: then the test pairs
    the seeds both have (five seeds of one row against three of another: a test over those three, said in the
    text), and with fewer than two in common the margin of the full means decides."""
    if not isinstance(a, Mapping) or not isinstance(b, Mapping):
        return _compare_lists(list(a), list(b), require_test)
    seeds = sorted(a.keys() & b.keys())
    if len(seeds) < 2:
        ahead = clearly_greater(mean_std(list(a.values()))[0], mean_std(list(b.values()))[0])
        return Comparison(ahead and not require_test, NAN, NAN,
                          f"no paired test ({len(a)} vs {len(b)} seeds, {len(seeds)} in common): margin only")
    c = _compare_lists([a[s] for s in seeds], [b[s] for s in seeds], require_test)
    if len(seeds) == max(len(a), len(b)):
        return c
    listed = ", ".join(map(str, seeds))
    return Comparison(c.ok, c.t, c.p, f"{c.text} over the {len(seeds)} seeds both have ({listed})",
                      f", seeds {','.join(map(str, seeds))}")
