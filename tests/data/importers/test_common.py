"""The shared streaming machinery: many small blocks give the same result as one block (line numbers, header,
quoted fields, event ids, counts), and the id / entity helpers."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from unisr.data.importers import common, import_douban
from unisr.data.importers.common import Entities, IdMap, iter_blocks, split_csv


def _douban(path: Path, n: int) -> None:
    lines = ["user_id,item_id,rating,domain,living_place,join_time,time_bin"]
    for i in range(n):
        place = f'"City {i}, Country"' if i % 3 == 0 else "x"
        rating = "7" if i % 50 == 49 else str(i % 2)  # every 50th row has a bad rating
        lines.append(f"{i % 37},{i % 101},{rating},{('book', 'movie', 'music')[i % 3]},{place},2008-01-01,{i % 5}")
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())


def test_small_blocks_match_one_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "src"
    src.mkdir()
    _douban(src / "douban.csv", 1000)
    one = import_douban(src, tmp_path / "one")
    monkeypatch.setattr(common, "BLOCK_BYTES", 997)  # ~ 20 lines a block, cut mid-line
    many = import_douban(src, tmp_path / "many")
    assert one.read == many.read == {"douban.csv": 1000}
    assert one.written == many.written == {"douban.csv": 980} and many.balanced
    a, b = (pq.read_table(p / "events.parquet") for p in (tmp_path / "one", tmp_path / "many"))
    assert a.equals(b) and b["event_id"].to_pylist() == list(range(980))
    rej = pq.read_table(tmp_path / "many" / "rejected.parquet").to_pylist()
    assert [int(r["line_no"]) for r in rej] == [i + 2 for i in range(1000) if i % 50 == 49]  # header is line 1
    assert {r["reason"] for r in rej} == {"rating not 0 or 1"}
    users = pq.read_table(tmp_path / "many" / "users.parquet").to_pylist()
    assert users[0] == {"user_id": 0, "living_place": "City 0, Country", "join_time": "2008-01-01", "time_bin": 0}


def test_iter_blocks_and_split(tmp_path: Path) -> None:
    p = tmp_path / "f.csv"
    p.write_bytes(b"\xef\xbb\xbfa,b\n\n1,\"x, y\"\n2,3,4\n5,6")  # BOM, blank line, quoted comma, no final newline
    blocks = list(iter_blocks(p, 4))
    df = pl.concat(blocks)
    assert df["line_no"].to_list() == [1, 3, 4, 5] and df["raw"][0] == "a,b"
    good, bad = split_csv(df.slice(1), ",", ["a", "b"])
    assert good.select("a", "b").rows() == [("1", "x, y"), ("5", "6")] and bad["line_no"].to_list() == [4]


def test_id_map_and_entities() -> None:
    m = IdMap()
    assert m.encode(pl.Series(["b", "a", "b", None])).to_list() == [1, 2, 1, None]
    assert m.encode(pl.Series(["c", "a"])).to_list() == [3, 2] and len(m) == 3
    e = Entities("user_id")
    e.add(pl.DataFrame({"user_id": [2, 1, 2], "f": ["x", "y", "z"]}))
    e.add(pl.DataFrame({"user_id": [1, 3], "f": ["w", "v"]}))
    e.ensure(pl.Series([4, 1]))
    assert e.frame().rows() == [(1, "y"), (2, "x"), (3, "v"), (4, None)]
