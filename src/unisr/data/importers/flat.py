"""One importer for the flat, one-impression-per-line CSV layouts (Ali-CCP CSVs, AliExpress, KuaiRand, Douban,
MIND, Taobao display ads): a :class:`FlatFormat` says which field is the user, the item, the scenario, the
labels, the time, and which fields are user, item or event features; :func:`import_flat` streams the files.

Per line, the first failing check is the reason it is rejected: a wrong number of fields, a missing or
non-integer id, a label not 0/1, a scenario value outside a fixed map, a time outside the gate's range, a
feature not of its declared type. Users and items are the first feature row seen per id.

Shapes:
    (no tensors) CSV blocks -> events / users / items Parquet tables
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from unisr.data.importers.base import ImportReport, ImportSourceError
from unisr.data.importers.common import (
    DatasetWriter,
    Entities,
    IdMap,
    ScenarioMap,
    blank,
    carve_valid,
    int_list,
    iter_blocks,
    label_checks,
    list_ok,
    read_header,
    split_csv,
    to_float,
    to_int,
    to_label,
    ts_checks,
)
from unisr.data.schema import ColumnSplit, DatasetSpec, RandomSplit


@dataclass
class FlatFormat:
    """How one flat layout maps to the canonical tables. Feature types: ``int``, ``float``, ``str``,
    ``list:<sep>`` (integers joined by ``sep``)."""

    name: str
    dataset: str
    files: list[tuple[str, str]]  # (file name, split: train / valid / test / train_only / "" for none)
    user: str | None
    item: str | None
    scenario: str | None  # the scenario field; None: every row of a file has the file's scenario value
    scenarios: Callable[[], ScenarioMap]
    click: str
    conversion: str | None = None
    ts: str | None = None  # unix seconds (or ms) field; None: ts = 0 (the source has no time)
    ts_expr: Callable[[str], pl.Expr] | None = None
    request: str | None = None
    str_ids: bool = False  # user / item ids are strings: remapped to int64 (IdMap)
    user_cols: dict[str, str] = field(default_factory=dict)
    item_cols: dict[str, str] = field(default_factory=dict)
    event_cols: dict[str, str] = field(default_factory=dict)
    names: list[str] | None = None  # the fields of a header-less file (a file whose first line is them has it)
    sep: str = ","
    file_scenario: Callable[[str], str] | None = None  # scenario value of a file when ``scenario`` is None
    source: dict = field(default_factory=dict)


def _typed(col: str, kind: str) -> tuple[pl.Expr, pl.Expr]:
    """(converted expression, the 'value present but not of its type' condition)."""
    if kind == "int":
        e = to_int(col)
    elif kind == "float":
        e = to_float(col)
    elif kind == "str":
        return pl.when(blank(col)).then(None).otherwise(pl.col(col)).alias(col), pl.lit(False)
    elif kind.startswith("list:"):
        e = int_list(col, kind[5:])
        return e.alias(col), ~list_ok(e)
    else:  # pragma: no cover - a format definition bug
        raise ValueError(kind)
    return e.alias(col), ~blank(col) & e.is_null()


def _present(src: Path, fmt: FlatFormat) -> list[tuple[Path, str]]:
    found = [(src / f, s) for f, s in fmt.files if (src / f).exists()]
    if found and all(not s for _, s in fmt.files):  # alternative names of one file (full data or sample)
        found = found[:1]
    if not found:
        raise ImportSourceError(f"{src / fmt.files[0][0]}: missing; no {fmt.name} files in {src} "
                                f"(expected {', '.join(f for f, _ in fmt.files)})")
    return found


def import_flat(fmt: FlatFormat, src: str | Path, out: str | Path, variant: str = "") -> ImportReport:
    """Stream the files of ``fmt`` found in ``src`` into a canonical dataset in ``out``."""
    src, out = Path(src), Path(out)
    files = _present(src, fmt)
    w = DatasetWriter(fmt.name, src, out, variant)
    scen = fmt.scenarios()
    user_ids, item_ids = IdMap(), IdMap()
    users, items = Entities("user_id"), Entities("item_id")
    feat = {**fmt.user_cols, **fmt.item_cols, **fmt.event_cols}
    for path, split in files:
        rel = str(path.relative_to(src))
        header = read_header(path, fmt.sep)
        names = fmt.names if fmt.names is not None and header != fmt.names else header
        skip = names == header
        need = [c for c in (fmt.user, fmt.item, fmt.scenario, fmt.click, fmt.conversion, fmt.ts, fmt.request,
                            *feat) if c]
        missing = [c for c in need if c not in names]
        if missing:
            raise ImportSourceError(f"{path}: header lacks field(s) {missing} (header: {header})")
        for i, block in enumerate(iter_blocks(path)):
            if i == 0 and skip:
                block = block.slice(1)
            good = w.parsed(*split_csv(block, fmt.sep, names), rel, "events")
            ids = {"user_id": fmt.user, "item_id": fmt.item}
            checks = []
            for canon, col in ids.items():
                if col is not None:
                    what = canon.split("_")[0]
                    checks.append((blank(col), f"missing {what} id ({col})"))
                    if not fmt.str_ids:
                        checks.append((to_int(col).is_null(), f"{what} id not an integer ({col})"))
            sc_raw = (pl.col(fmt.scenario) if fmt.scenario else
                      pl.lit(fmt.file_scenario(rel) if fmt.file_scenario else ""))
            good = good.with_columns(_scen=pl.when(sc_raw.cast(pl.String).str.len_chars() > 0)
                                     .then(sc_raw.cast(pl.String)))
            good = good.with_columns(_sid=scen.encode(good["_scen"]))
            if fmt.scenario:
                checks.append((blank(fmt.scenario), f"missing scenario ({fmt.scenario})"))
            checks.append((pl.col("_sid").is_null(), f"scenario value not one of {fmt.scenario} "
                                                     f"{sorted(scen.fixed) if scen.fixed else ''}".rstrip()))
            checks += label_checks({fmt.click: fmt.click} | ({fmt.conversion: fmt.conversion}
                                                            if fmt.conversion else {}))
            if fmt.ts:
                checks += ts_checks((fmt.ts_expr or to_int)(fmt.ts), f"time ({fmt.ts})")
            if fmt.request:
                checks.append((to_int(fmt.request).is_null(), f"request id not an integer ({fmt.request})"))
            typed = {c: _typed(c, k) for c, k in feat.items()}
            checks += [(bad_val, f"{c} not of type {feat[c]}") for c, (_, bad_val) in typed.items()]
            good = w.checked(good, checks, rel)
            zero = pl.Series([0] * good.height, dtype=pl.Int64)
            uid = (zero if fmt.user is None else user_ids.encode(good[fmt.user]) if fmt.str_ids
                   else good.select(to_int(fmt.user)).to_series())
            iid = (zero if fmt.item is None else item_ids.encode(good[fmt.item]) if fmt.str_ids
                   else good.select(to_int(fmt.item)).to_series())
            good = good.with_columns(
                [e for e, _ in typed.values()], user_id=uid, item_id=iid)
            ev = good.select(
                ts=(fmt.ts_expr or to_int)(fmt.ts) if fmt.ts else pl.lit(0, pl.Int64),
                user_id="user_id", scenario_id="_sid", item_id="item_id", click=to_label(fmt.click),
                **({"conversion": to_label(fmt.conversion)} if fmt.conversion else {}),
                **({"request_id": to_int(fmt.request)} if fmt.request else {}),
                **{c: pl.col(c) for c in fmt.event_cols},
            )
            if split:
                n0 = w.n_events
                ev = ev.with_columns(split=carve_valid(split, pl.int_range(n0, n0 + pl.len())))
            w.events(ev)
            users.add(good.select("user_id", *fmt.user_cols))
            items.add(good.select("item_id", *fmt.item_cols))
            w.wrote(rel, good.height)
    if not w.report.read:
        raise ImportSourceError(f"{files[0][0]}: nothing to import (no data rows)")
    spec = DatasetSpec(
        name=fmt.dataset,
        scenarios=scen.specs(set(w.scenario_events)),
        labels=["click"] + (["conversion"] if fmt.conversion else []),
        split=ColumnSplit() if any(s for _, s in files) else RandomSplit(ratios=(0.8, 0.1, 0.1), seed=2022),
        source={"format": fmt.name, **({"layout": variant} if variant else {}), **fmt.source},
    )
    return w.finish(spec, users.frame(), items.frame())
