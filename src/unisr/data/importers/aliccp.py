"""Ali-CCP (Alibaba click and conversion prediction, Tianchi 408) -> canonical dataset: scenario = field 301,
labels click and purchase (-> ``conversion``). Three layouts, detected from the files in ``src``:

- ``aitm``: PaddleRec AITM CSVs ``aitm_train.csv`` (header ``click,purchase,101,...,853,301``) and
  ``aitm_test.csv`` (same fields, no header); every 10th train row -> valid.
- ``rechub``: torch-rechub / Scenario-Wise Rec CSVs ``ali_ccp_{train,val,test}*.csv`` (``click, purchase``,
  21 label-encoded sparse fields incl. ``301``, four ``*_14`` multi-hot summaries, eight dense ``D*`` fields).
- ``tianchi``: the raw release, ``sample_skeleton_{train,test}.csv`` (``sample_id, click, buy, md5,
  feature_num, feature_list``) + ``common_features_{train,test}.csv`` (``md5, feature_num, feature_list``);
  ``feature_list`` entries are ``field\\x02feat_id\\x03value`` joined by ``\\x01``. The user-side single-valued
  fields (101, 121-129) come from the common features of the sample's ``md5``; the sample's own fields (205,
  206, 207, 210, 216, 301, 508, 509, 702, 853) from its skeleton line; every field's value is its feat_id.

Fields: 101 = user id, 205 = item id, 121-129 user profile (to users), 206 category, 207 shop, 210 intention
node, 216 brand (to items), 508, 509, 702, 853 and the ``*_14`` / ``D*`` fields are user-item combinations (kept
on the events). Scenario: 301 values 1, 2, 3 -> scenarios 0, 1, 2 (CSV layouts); raw feat ids of 301 in
first-seen order (tianchi). ts = 0 (Ali-CCP has no time).

Shapes:
    (no tensors) CSV -> events / users / items Parquet tables
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from unisr.data.importers.base import ImportReport, ImportSourceError
from unisr.data.importers.common import (
    DatasetWriter,
    Entities,
    ScenarioMap,
    carve_valid,
    int_checks,
    iter_blocks,
    label_checks,
    split_csv,
    to_int,
    to_label,
)
from unisr.data.importers.flat import FlatFormat, import_flat
from unisr.data.schema import ColumnSplit, DatasetSpec, ScenarioKind

S301 = {"1": (0, "301=1"), "2": (1, "301=2"), "3": (2, "301=3")}
USER_FIELDS = ["121", "122", "124", "125", "126", "127", "128", "129"]
ITEM_FIELDS = ["206", "207", "210", "216"]
COMBO_FIELDS = ["508", "509", "702", "853"]
AITM_NAMES = ["click", "purchase", "101", *USER_FIELDS, "205", "206", "207", "216", *COMBO_FIELDS, "301"]
RECHUB_MULTI = ["109_14", "110_14", "127_14", "150_14"]
RECHUB_DENSE = ["D109_14", "D110_14", "D127_14", "D150_14", "D508", "D509", "D702", "D853"]


def _csv_format(files: list[tuple[str, str]], layout: str) -> FlatFormat:
    item = [f for f in ITEM_FIELDS if layout == "rechub" or f != "210"]
    return FlatFormat(
        name="aliccp", dataset="ali-ccp", files=files, user="101", item="205", scenario="301",
        scenarios=lambda: ScenarioMap(ScenarioKind.RECOMMEND, S301), click="click", conversion="purchase",
        user_cols={f: "int" for f in USER_FIELDS} | ({f: "int" for f in RECHUB_MULTI} if layout == "rechub" else {}),
        item_cols={f: "int" for f in item},
        event_cols={f: "int" for f in COMBO_FIELDS} | ({f: "float" for f in RECHUB_DENSE} if layout == "rechub"
                                                       else {}),
        names=AITM_NAMES if layout == "aitm" else None,
        source={"scenario": "field 301", "labels": "click, conversion = purchase"},
    )


LAYOUTS = ("tianchi", "rechub", "aitm")


def import_aliccp(src: str | Path, out: str | Path, layout: str | None = None) -> ImportReport:
    """Convert Ali-CCP (AITM CSVs, torch-rechub CSVs or the raw Tianchi files in ``src``) to a canonical
    dataset in ``out``. ``layout`` (``tianchi``, ``rechub``, ``aitm``) picks one where a folder holds several;
    None: the first present in that order."""
    src = Path(src)
    if not src.is_dir():
        raise ImportSourceError(f"{src}: no such folder")
    if layout is not None and layout not in LAYOUTS:
        raise ImportSourceError(f"--layout {layout!r}: Ali-CCP layouts are {', '.join(LAYOUTS)}")
    want = LAYOUTS if layout is None else (layout,)
    if "tianchi" in want and ((src / "sample_skeleton_train.csv").exists()
                              or (src / "sample_skeleton_test.csv").exists()):
        return _import_tianchi(src, Path(out))
    rechub = {s: sorted(p.name for p in src.glob(f"ali_ccp_{s}*.csv")) for s in ("train", "val", "test")}
    if "rechub" in want and any(rechub.values()):
        files = [(n, "train") for n in rechub["train"]] + [(n, "valid") for n in rechub["val"]]
        files += [(n, "test") for n in rechub["test"]]
        if not rechub["val"]:
            files = [(n, "train_only" if s == "train" else s) for n, s in files]
        return import_flat(_csv_format(files, "rechub"), src, out, variant="rechub")
    if "aitm" in want and ((src / "aitm_train.csv").exists() or (src / "aitm_test.csv").exists()):
        files = [("aitm_train.csv", "train_only"), ("aitm_test.csv", "test")]
        return import_flat(_csv_format(files, "aitm"), src, out, variant="aitm")
    raise ImportSourceError(f"{src / 'sample_skeleton_train.csv'}: missing; no Ali-CCP {layout or ''} files in {src} (expected "
                            "sample_skeleton_*.csv + common_features_*.csv, ali_ccp_{train,val,test}*.csv, or "
                            "aitm_{train,test}.csv)")


# -------------------------------------------------------------------------------------- raw Tianchi
def _fields(df: pl.DataFrame, col: str, keep: list[str]) -> pl.DataFrame:
    """Per row (``line_no``) the first feat_id of each field in ``keep`` of ``feature_list`` ``col``: one
    String column per field (null when the row lacks it)."""
    if not df.height:
        return df.with_columns([pl.lit(None, pl.String).alias(k) for k in keep])
    long = (df.select("line_no", pl.col(col).str.split("\x01").alias("_e")).explode("_e")
            .with_columns(_f=pl.col("_e").str.split_exact("\x02", 1))
            .select("line_no", field=pl.col("_f").struct.field("field_0"),
                    feat=pl.col("_f").struct.field("field_1").str.split("\x03").list.first())
            .filter(pl.col("field").is_in(keep)))
    wide = long.group_by("line_no", "field").agg(pl.col("feat").first()).pivot(
        on="field", index="line_no", values="feat")
    for k in keep:
        if k not in wide.columns:
            wide = wide.with_columns(pl.lit(None, pl.String).alias(k))
    return df.join(wide.select("line_no", *keep), on="line_no", how="left")


def _import_tianchi(src: Path, out: Path) -> ImportReport:
    w = DatasetWriter("aliccp", src, out, "tianchi")
    users, items = Entities("user_id"), Entities("item_id")
    common: list[pl.DataFrame] = []  # md5 -> user fields (one row per md5, not per sample)
    pairs = [(s, src / f"sample_skeleton_{s}.csv", src / f"common_features_{s}.csv") for s in ("train", "test")]
    pairs = [p for p in pairs if p[1].exists()]
    for _, _skel, comm in pairs:
        if not comm.exists():
            raise ImportSourceError(f"{comm}: missing (each sample_skeleton file needs its common_features file)")
        for block in iter_blocks(comm):
            good = w.parsed(*split_csv(block, ",", ["md5", "feature_num", "feature_list"]), comm.name, "users")
            good = _fields(good, "feature_list", ["101", *USER_FIELDS])
            good = w.checked(good, int_checks({"101": "user id (field 101)"}), comm.name)
            common.append(good.select("md5", pl.col("101").alias("_uid"), *USER_FIELDS))
            w.wrote(comm.name, good.height)
    md5 = (pl.concat(common).unique("md5", keep="first") if common
           else pl.DataFrame(schema={"md5": pl.String, "_uid": pl.String}))
    users.add(md5.select(user_id=to_int("_uid"), **{f: to_int(f) for f in USER_FIELDS}))
    scen = ScenarioMap(ScenarioKind.RECOMMEND, prefix="301=")
    keep = ["205", *ITEM_FIELDS, "301", *COMBO_FIELDS]
    for split, skel, _ in pairs:
        for block in iter_blocks(skel):
            good = w.parsed(*split_csv(block, ",", ["sample_id", "click", "buy", "md5", "feature_num",
                                                    "feature_list"]), skel.name, "events")
            good = _fields(good, "feature_list", keep).join(md5.select("md5", "_uid"), on="md5", how="left")
            good = good.with_columns(_sid=scen.encode(good["301"]))
            good = w.checked(good, [
                *int_checks({"sample_id": "sample id"}), *label_checks({"click": "click", "buy": "buy"}),
                (pl.col("_uid").is_null(), "md5 not in common_features (no user)"),
                *int_checks({"205": "item id (field 205)"}),
                (pl.col("_sid").is_null(), "no scenario (field 301)"),
            ], skel.name)
            n0 = w.n_events
            w.events(good.select(
                ts=pl.lit(0, pl.Int64), user_id=to_int("_uid"), scenario_id="_sid", item_id=to_int("205"),
                click=to_label("click"), conversion=to_label("buy"),
                split=carve_valid("train_only" if split == "train" else "test", pl.int_range(n0, n0 + pl.len())),
                sample_id=to_int("sample_id"), **{f: to_int(f) for f in COMBO_FIELDS}))
            items.add(good.select(item_id=to_int("205"), **{f: to_int(f) for f in ITEM_FIELDS}))
            w.wrote(skel.name, good.height)
    spec = DatasetSpec(name="ali-ccp", scenarios=scen.specs(set(w.scenario_events)), labels=["click", "conversion"],
                       split=ColumnSplit(),
                       source={"format": "aliccp", "layout": "tianchi", "scenario": "field 301 (feat ids)"})
    return w.finish(spec, users.frame(), items.frame())
