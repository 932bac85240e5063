"""Every notebook in notebooks/ runs top to bottom on Eddy, the way `jupyter nbconvert --execute`
(and so CI, papermill-style batch runs and reports) runs it.
"""

from __future__ import annotations

import base64
import pathlib
import re
import shutil
import subprocess
import sys

from collections.abc import Iterator

import nbformat
import pytest

from conftest import KERNEL_NAME, NOTEBOOKS, generate_mubi
from flink_cluster import flink_gateway
from kafka_broker import kafka_broker

NOTEBOOK_PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def nbconvert_execute(notebook: pathlib.Path, out_dir: pathlib.Path) -> subprocess.CompletedProcess[str]:
    """Execute `notebook` with the eddy kernel, writing the result into out_dir."""
    return subprocess.run(
        [
            sys.executable, "-m", "jupyter", "nbconvert",
            "--to", "notebook",
            "--execute",
            f"--ExecutePreprocessor.kernel_name={KERNEL_NAME}",
            "--ExecutePreprocessor.timeout=120",
            "--output-dir", str(out_dir),
            str(notebook),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_notebooks_exist() -> None:
    # An empty notebooks/ would make the parametrised test below vanish silently.
    assert NOTEBOOK_PATHS, f"no notebooks in {NOTEBOOKS}"


# The broker address kafka.ipynb uses by default (dev/kafka/broker's), and the topics it
# asks the reader to make.
KAFKA_DEFAULT = "127.0.0.1:9092"
KAFKA_TOPICS = {"clicks": 2, "user-counts": 1, "products-cdc": 1}
# The SQL Gateway flink.ipynb connects to by default (dev/flink/cluster's).
FLINK_DEFAULT = "flink://127.0.0.1:8083"


@pytest.fixture(scope="module")
def notebook_folder(mubi_gen_bin, tmp_path_factory) -> Iterator[pathlib.Path]:
    """A copy of notebooks/ with its own small data/mubi: the tests never read or write the
    data a user generated beside the real notebooks. kafka.ipynb gets a broker of its own,
    flink.ipynb a Flink cluster and SQL Gateway, their default addresses replaced."""
    folder = tmp_path_factory.mktemp("notebooks")
    with (
        kafka_broker(tmp_path_factory.mktemp("kafka"), KAFKA_TOPICS) as bootstrap,
        flink_gateway(tmp_path_factory.mktemp("flink")) as gateway,
    ):
        for notebook in NOTEBOOK_PATHS:
            text = notebook.read_text()
            if notebook.name == "kafka.ipynb":
                assert KAFKA_DEFAULT in text, "kafka.ipynb no longer uses dev/kafka/broker's address"
                text = text.replace(KAFKA_DEFAULT, bootstrap)
            if notebook.name == "flink.ipynb":
                assert FLINK_DEFAULT in text, "flink.ipynb no longer uses dev/flink/cluster's gateway"
                text = text.replace(FLINK_DEFAULT, f"flink://{gateway}")
            (folder / notebook.name).write_text(text)
        generate_mubi(mubi_gen_bin, folder / "data" / "mubi", scale="0.002")
        yield folder


@pytest.mark.parametrize("notebook", NOTEBOOK_PATHS, ids=lambda p: p.name)
def test_notebook_executes_cleanly(notebook: pathlib.Path, notebook_folder: pathlib.Path, tmp_path: pathlib.Path) -> None:
    proc = nbconvert_execute(notebook_folder / notebook.name, tmp_path)
    assert proc.returncode == 0, f"nbconvert failed on {notebook.name}:\n{proc.stderr}"

    executed = nbformat.read(tmp_path / notebook.name, as_version=4)
    for index, cell in enumerate(executed.cells):
        if cell.cell_type != "code":
            continue
        errors = [out for out in cell.outputs if out.output_type == "error"]
        assert not errors, f"cell {index} ({cell.source!r}) has an error output: {errors}"
        assert cell.execution_count is not None, f"cell {index} ({cell.source!r}) has no execution_count"


def test_failing_cell_fails_nbconvert(tmp_path: pathlib.Path) -> None:
    failing = "SELECT * FROM no_such_table"
    nb = nbformat.v4.new_notebook(
        metadata={
            "kernelspec": {"name": KERNEL_NAME, "display_name": "Eddy (SQL)", "language": "sql"},
            "language_info": {"name": "sql"},
        },
        cells=[
            nbformat.v4.new_code_cell("SELECT 1"),
            nbformat.v4.new_code_cell(failing),
            nbformat.v4.new_code_cell("SELECT 2"),
        ],
    )
    path = tmp_path / "failing.ipynb"
    nbformat.write(nb, path)

    proc = nbconvert_execute(path, tmp_path / "out")

    assert proc.returncode != 0, "nbconvert succeeded on a notebook with a failing cell"
    stderr = ANSI_ESCAPE.sub("", proc.stderr)
    assert "CellExecutionError" in stderr, stderr
    # nbclient's message echoes the cell's source between dashed lines, then prints the
    # kernel's `traceback` lines: those must name the error, e.g. "PlanError: ... no_such_table".
    _, echoed, traceback = stderr.partition(f"{failing}\n------------------")
    assert echoed, f"failing cell not echoed in stderr:\n{stderr}"
    assert re.search(r"\b[A-Z]\w*Error\b", traceback), f"no error name after the cell:\n{stderr}"
    assert "no_such_table" in traceback, f"error does not mention the missing table:\n{stderr}"


def test_exported_html_shows_the_charts_and_tables(notebook_folder: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """nbconvert's HTML has no Vega: the static SVG in each chart bundle is what shows."""
    notebook = notebook_folder / "mubi_exploration.ipynb"
    assert nbconvert_execute(notebook, tmp_path).returncode == 0
    html = subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", str(tmp_path / notebook.name)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert html.returncode == 0, html.stderr
    page = (tmp_path / "mubi_exploration.html").read_text(encoding="utf-8")
    # nbconvert embeds each SVG as a base64 <img>; the chart's description is inside it.
    svgs = [base64.b64decode(data).decode("utf-8") for data in re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', page)]
    charts = [m.group(1) for svg in svgs if (m := re.search(r'aria-label="([^"]+)"', svg))]
    assert len(charts) >= 3, f"expected the three charts as SVG, found {charts}"
    assert any("avg_popularity by movie_release_year" in label for label in charts), charts
    assert '<table class="eddy-table">' in page
    assert "The top 10 films of 2019" in page
