"""MovieLens importer: GroupLens ``.dat`` and RecBole atomic fixtures, rejected rows, and the real ML-1M."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from unisr.data.importers import IMPORTERS, ImportSourceError, get_importer, import_movielens
from unisr.data.schema import DatasetSpec
from unisr.data.validate import validate_dataset

REAL_ML1M = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "movielens-1m"

NATIVE_USERS = """1::F::1::10::48067
2::M::56::16::70072
3::M::25::15::55117
4::M::45::7::02460
5::F::18::3::55455
6::M::30::2::11111
garbage line
"""
NATIVE_MOVIES = """1::Toy Story (1995)::Animation|Children's|Comedy
2::Jumanji (1995)::Adventure|Children's|Fantasy
3::Café Society (1995)::Drama
4::Heat (1995)::Action|Crime|Thriller
"""
NATIVE_RATINGS = """1::1::5::978300760
1::3::3::978302109
2::2::4::978301968
3::4::1::978300275
4::1::4::978824291
5::3::2::978824292
2::4::x::978300000
this is not a rating
99::1::4::978300000
1::999::4::978300000
6::1::5::978300000
"""


@pytest.fixture
def native_src(tmp_path: Path) -> Path:
    """GroupLens layout, latin-1, with one bad user row of each kind and five bad ratings."""
    src = tmp_path / "ml-1m-native"
    src.mkdir()
    (src / "users.dat").write_bytes(NATIVE_USERS.encode("latin-1"))
    (src / "movies.dat").write_bytes(NATIVE_MOVIES.encode("latin-1"))
    (src / "ratings.dat").write_bytes(NATIVE_RATINGS.encode("latin-1"))
    return src


def _crlf(lines: list[str]) -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


@pytest.fixture
def recbole_src(tmp_path: Path) -> Path:
    """RecBole atomic layout (tab separated, ``name:type`` headers, CRLF, UTF-8) with two bad ratings."""
    src = tmp_path / "ml-1m-recbole"
    src.mkdir()
    (src / "ml-1m.inter").write_bytes(_crlf([
        "user_id:token\titem_id:token\trating:float\ttimestamp:float",
        "1m_1\tToy Story (1995)\t5\t978300760",
        "1m_2\tHeat (1995)\t3\t978302109",
        "1m_3\tAmélie (2001)\t4\t978301968",
        "1m_1\tUnknown Movie (1990)\t4\t978301968",
        "1m_2\tHeat (1995)",
    ]))
    (src / "ml-1m.user").write_bytes(_crlf([
        "user_id:token\tage:float\tgender:token\toccupation:float\tzip_code:token",
        "1m_1\t1\tF\t10\t48067",
        "1m_2\t25\tM\t16\t70072",
        "1m_3\t50\tM\t15\t02460",
    ]))
    (src / "ml-1m.item").write_bytes(_crlf([
        "item_id:token\tmovie_title:token\trelease_year:float\tgenre:token",
        "Toy Story (1995)\tToy Story\t1995\tAnimation Children's Comedy",
        "Heat (1995)\tHeat\t1995\tAction Crime Thriller",
        "Amélie (2001)\tAmélie\t2001\tComedy Romance",
    ]))
    return src


def _read(out: Path, table: str) -> list[dict]:
    return pq.read_table(out / f"{table}.parquet").to_pylist()


# ------------------------------------------------------------------------------------------- native
def test_native_import(native_src: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    rep = import_movielens(native_src, out)
    assert rep.variant == "grouplens"
    assert rep.read == {"users.dat": 7, "movies.dat": 4, "ratings.dat": 11}
    assert rep.written == {"users.dat": 5, "movies.dat": 4, "ratings.dat": 6}
    assert rep.rejected == {"users.dat": 2, "ratings.dat": 5}
    assert rep.balanced

    events = _read(out, "events")
    assert [e["event_id"] for e in events] == [0, 1, 2, 3, 4, 5]  # data row index in ratings.dat
    assert [e["scenario_id"] for e in events] == [0, 0, 2, 1, 2, 0]  # ages 1, 1, 56, 25, 45, 18
    assert [e["click"] for e in events] == [1, 0, 1, 0, 1, 0]  # rating > 3
    assert [e["rating"] for e in events] == [5.0, 3.0, 4.0, 1.0, 4.0, 2.0]
    assert events[0] == {"event_id": 0, "ts": 978300760, "user_id": 1, "scenario_id": 0, "item_id": 1,
                         "click": 1, "rating": 5.0}
    users = _read(out, "users")
    assert users[3] == {"user_id": 4, "gender": "M", "age": 45, "occupation": 7, "zip": "02460"}
    items = {i["item_id"]: i for i in _read(out, "items")}
    assert items[3]["title"] == "Café Society (1995)"  # latin-1 decoded
    assert items[1]["genre_first"] == "Animation"
    assert items[1]["genres"] == ["Animation", "Children's", "Comedy"]
    assert items[4]["year"] == 1995

    spec = DatasetSpec.load(out)
    assert spec.name == "movielens-1m"
    assert [(s.id, s.name, str(s.kind)) for s in spec.scenarios] == [
        (0, "age_1_18", "recommend"), (1, "age_25", "recommend"), (2, "age_35_plus", "recommend")]
    assert spec.split.kind == "random" and tuple(spec.split.ratios) == (0.8, 0.1, 0.1) and spec.split.seed == 2022
    feats = {(f.table, f.column): f for f in spec.features}
    assert set(feats) == {("users", "user_id"), ("items", "item_id"), ("users", "gender"),
                          ("users", "occupation"), ("users", "zip"), ("items", "genre_first"), ("users", "age")}
    assert feats[("users", "age")].type == "dense" and feats[("users", "age")].transform == "minmax"
    assert all(f.embed_dim == 16 for f in spec.features if f.type == "categorical")
    assert validate_dataset(out) == []


def test_native_rejected_rows_have_reasons(native_src: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    rep = import_movielens(native_src, out)
    rej = pq.read_table(out / "rejected.parquet").to_pylist()
    assert len(rej) == rep.total_rejected == 7
    by_line = {(r["source"], r["line_no"]): r["reason"] for r in rej}
    assert by_line[("users.dat", "6")].startswith("age not a MovieLens age group")
    assert by_line[("users.dat", "7")].startswith("unparseable")
    assert by_line[("ratings.dat", "7")] == "rating not a number"
    assert by_line[("ratings.dat", "8")].startswith("unparseable")
    assert by_line[("ratings.dat", "9")].startswith("unknown user")
    assert by_line[("ratings.dat", "10")].startswith("unknown item")
    assert by_line[("ratings.dat", "11")].startswith("unknown user")  # user 6 was itself rejected
    assert {r["raw"] for r in rej} >= {"this is not a rating", "2::4::x::978300000"}
    assert sum(rep.reasons.values()) == rep.total_rejected


def test_reimport_without_rejections_removes_stale_rejected(native_src: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    import_movielens(native_src, out)
    assert (out / "rejected.parquet").exists()
    (native_src / "ratings.dat").write_text("1::1::5::978300760\n")
    (native_src / "users.dat").write_text("1::F::1::10::48067\n")
    rep = import_movielens(native_src, out)
    assert rep.total_rejected == 0 and not (out / "rejected.parquet").exists()


# ------------------------------------------------------------------------------------------ RecBole
def test_recbole_import(recbole_src: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    rep = import_movielens(recbole_src, out)
    assert rep.variant == "recbole"
    assert rep.read == {"ml-1m.user": 3, "ml-1m.item": 3, "ml-1m.inter": 5}
    assert rep.written == {"ml-1m.user": 3, "ml-1m.item": 3, "ml-1m.inter": 3}
    assert rep.rejected == {"ml-1m.inter": 2}
    assert rep.balanced
    # item ids: 1 + rank of the title in sorted order
    items = _read(out, "items")
    assert [(i["item_id"], i["title"]) for i in items] == [
        (1, "Amélie (2001)"), (2, "Heat (1995)"), (3, "Toy Story (1995)")]
    assert items[2]["genres"] == ["Animation", "Children's", "Comedy"] and items[2]["genre_first"] == "Animation"
    assert items[0]["year"] == 2001
    events = _read(out, "events")
    assert [(e["event_id"], e["user_id"], e["item_id"], e["scenario_id"], e["click"]) for e in events] == [
        (0, 1, 3, 0, 1), (1, 2, 2, 1, 0), (2, 3, 1, 2, 1)]
    users = _read(out, "users")
    assert users[2] == {"user_id": 3, "gender": "M", "age": 50, "occupation": 15, "zip": "02460"}
    rej = pq.read_table(out / "rejected.parquet").to_pylist()
    assert sorted(r["reason"].split(" ")[0] for r in rej) == ["unknown", "unparseable:"]
    assert validate_dataset(out) == []


def test_recbole_header_missing_field(recbole_src: Path, tmp_path: Path) -> None:
    (recbole_src / "ml-1m.inter").write_text("user_id:token\titem_id:token\n1m_1\tHeat (1995)\n")
    with pytest.raises(ImportSourceError, match=r"ml-1m\.inter.*rating"):
        import_movielens(recbole_src, tmp_path / "out")


# ----------------------------------------------------------------------------------- sources, registry
def test_missing_source_file_is_named(native_src: Path, tmp_path: Path) -> None:
    (native_src / "movies.dat").unlink()
    with pytest.raises(ImportSourceError, match="movies.dat"):
        import_movielens(native_src, tmp_path / "out")


def test_missing_recbole_companion_is_named(recbole_src: Path, tmp_path: Path) -> None:
    (recbole_src / "ml-1m.item").unlink()
    with pytest.raises(ImportSourceError, match=r"ml-1m\.item"):
        import_movielens(recbole_src, tmp_path / "out")


def test_no_movielens_files(tmp_path: Path) -> None:
    with pytest.raises(ImportSourceError, match="ratings.dat"):
        import_movielens(tmp_path, tmp_path / "out")
    with pytest.raises(ImportSourceError, match="no such folder"):
        import_movielens(tmp_path / "absent", tmp_path / "out")


def test_registry() -> None:
    assert IMPORTERS["movielens"] is import_movielens
    assert get_importer("movielens") is import_movielens
    with pytest.raises(KeyError, match="movielens"):
        get_importer("nope")


# ----------------------------------------------------------------------------------------- real data
@pytest.mark.shared_data
@pytest.mark.skipif(not (REAL_ML1M / "ml-1m.inter").exists(),
                    reason=f"real MovieLens-1M not found at {REAL_ML1M} (../shared/data/movielens-1m)")
def test_real_movielens_1m(tmp_path: Path) -> None:
    from unisr.data.describe import describe_dataset

    out = tmp_path / "ml1m"
    rep = import_movielens(REAL_ML1M, out)
    assert rep.balanced and rep.total_rejected == 0
    assert rep.written == {"ml-1m.inter": 1_000_209, "ml-1m.user": 6_040, "ml-1m.item": 3_883}
    d = describe_dataset(out)
    # items.parquet holds every movie of the item file (3,883); 3,706 of them are rated
    assert (d["rows"], d["users"], d["items"], d["active_items"]) == (1_000_209, 6_040, 3_883, 3_706)
    assert {s["name"]: s["events"] for s in d["scenarios"]} == {
        "age_1_18": 210_747, "age_25": 395_556, "age_35_plus": 393_906}
    assert d["click_rate"] == pytest.approx(575_281 / 1_000_209)
    assert validate_dataset(out) == []
