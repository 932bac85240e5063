"""Eddy against DuckDB on the five MUBI demo queries, over data from tools/mubi-gen.

The generator writes a tiny MUBI-shaped data set (scale 0.002: 452 movies, 31k ratings) into
a temporary folder. DuckDB reads the CSV files in process; Eddy reads them through its
kernel (jupyter_client, kernelspec "eddy"), and each Eddy result is written with
`COPY (query) TO 'file.csv'` and read back, so no text table is parsed. The two results are
compared row by row: same columns, same rows in the same order, floats within 1e-9.

Run with dev/test (`dev/test -k mubi`), which installs the debug kernelspec; the generator is
built here with cargo unless MUBI_GEN_BIN names a binary.
"""

from __future__ import annotations

import csv
import decimal
import math
import os
import pathlib
import subprocess

import duckdb
import pytest
from jupyter_client.manager import start_new_kernel

from conftest import KERNEL_NAME, generate_mubi
from mubi_queries import FLINK_PHRASINGS, QUERIES, TABLE_FILES, duckdb_table_ddl, eddy_table_ddl

# MUBI_TEST_SCALE=0.1 compares the engines on more data (1.5M ratings) by hand.
SCALE = os.environ.get("MUBI_TEST_SCALE", "0.002")
SEED = "42"
# Films of TOP_YEAR at this scale have a few dozen ratings each.
MIN_RATINGS = 10
TIMEOUT = 120


@pytest.fixture(scope="module")
def mubi_dir(mubi_gen_bin, tmp_path_factory) -> pathlib.Path:
    out = generate_mubi(mubi_gen_bin, tmp_path_factory.mktemp("mubi"), SCALE, SEED)
    for name in TABLE_FILES.values():
        assert (out / name).stat().st_size > 0
    return out


@pytest.fixture(scope="module")
def duck(mubi_dir):
    con = duckdb.connect()
    for table, name in TABLE_FILES.items():
        con.execute(duckdb_table_ddl(table, str(mubi_dir / name)))
    yield con
    con.close()


class Eddy:
    """One Eddy kernel with the MUBI tables created."""

    def __init__(self, data_dir: pathlib.Path, out_dir: pathlib.Path):
        self.km, self.kc = start_new_kernel(kernel_name=KERNEL_NAME, startup_timeout=TIMEOUT)
        self.out_dir = out_dir
        for table, name in TABLE_FILES.items():
            self.execute(eddy_table_ddl(table, str(data_dir / name)))

    def execute(self, code: str) -> None:
        errors = []

        def hook(msg):
            if msg["msg_type"] == "error":
                errors.append(f"{msg['content']['ename']}: {msg['content']['evalue']}")

        reply = self.kc.execute_interactive(code, timeout=TIMEOUT, output_hook=hook)
        assert reply["content"]["status"] == "ok", f"{code}\n-> {errors or reply['content']}"

    def rows(self, name: str, sql: str) -> tuple[list[str], list[list[str]]]:
        """A query's header and rows, through COPY to a CSV file."""
        path = self.out_dir / f"{name}.csv"
        self.execute(f"COPY ({sql}) TO '{path}' STORED AS CSV OPTIONS ('format.has_header' 'true')")
        with open(path, newline="", encoding="utf-8") as f:
            header, *rows = list(csv.reader(f))
        return header, rows

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


@pytest.fixture(scope="module")
def eddy(mubi_dir, tmp_path_factory):
    kernel = Eddy(mubi_dir, tmp_path_factory.mktemp("eddy-out"))
    yield kernel
    kernel.close()


def normalise(value):
    """A DuckDB value as a comparable Python value: numbers as float, the rest as str."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (bool, int, float, decimal.Decimal)):
        return float(value)
    return str(value)


def from_csv(cell: str, like):
    """An Eddy CSV cell, read as the type of the DuckDB value in its place."""
    if cell == "":
        return None  # DataFusion's CSV writer writes NULL as an empty field
    if isinstance(like, float):
        return float(cell)
    return cell


def same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


ALL_QUERIES = {**QUERIES, **FLINK_PHRASINGS}


@pytest.mark.parametrize("name", list(ALL_QUERIES))
def test_mubi_query_matches_duckdb(name, duck, eddy):
    query = ALL_QUERIES[name]
    ref = duck.execute(query.sql("duckdb", min_ratings=MIN_RATINGS))
    ref_header = [d[0] for d in ref.description]
    expected = [[normalise(v) for v in row] for row in ref.fetchall()]
    assert expected, f"{name}: DuckDB returned no rows; the test data is too small"

    header, cells = eddy.rows(name, query.sql("eddy", min_ratings=MIN_RATINGS))
    assert header == ref_header
    assert len(cells) == len(expected), f"{name}: {len(cells)} rows from Eddy, {len(expected)} from DuckDB"
    for i, (got_cells, want) in enumerate(zip(cells, expected)):
        got = [from_csv(c, w) for c, w in zip(got_cells, want)]
        assert len(got_cells) == len(want) and all(map(same, got, want)), (
            f"{name}, row {i}: Eddy {got} != DuckDB {want}"
        )


def test_top10_has_ten_films(duck):
    """The data at this scale is big enough for Q4 to be a real top 10."""
    rows = duck.execute(QUERIES["q4_top10_of_year"].sql("duckdb", min_ratings=MIN_RATINGS)).fetchall()
    assert len(rows) == 10


def test_generator_is_deterministic(mubi_gen_bin, mubi_dir, tmp_path):
    subprocess.run(
        [str(mubi_gen_bin), "--scale", SCALE, "--seed", SEED, "--out", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    for name in TABLE_FILES.values():
        assert (tmp_path / name).read_bytes() == (mubi_dir / name).read_bytes(), name
