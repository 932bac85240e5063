"""Eddy in a collaborative JupyterLab (jupyter-collaboration): two people on one notebook.

One JupyterLab server with real-time collaboration on, and two browser contexts (two users'
browsers: separate cookies and storage) on the same notebook. They share the document and its
one Eddy kernel: what one runs, both see, and a streaming cell's output updates in place on
both screens and ends on the same result. Screenshots and the server log go to
$EDDY_TEST_ARTIFACTS/collaboration/ (default tests/artifacts/collaboration/).
"""

from __future__ import annotations

import pathlib
import time

import pytest

from lab_support import (
    CLICKS_DDL,
    NotebookPage,
    artifacts_dir,
    assert_updated_in_place,
    chromium,
    lab_server,
    write_notebook,
)

VALUES, CREATE, COUNT = range(3)
CELLS = [
    "%sql\nSELECT * FROM (VALUES (1,'a'),(2,'b')) AS t(n, s)",
    CLICKS_DDL.format(name="clicks", rows="'number-of-rows'='1000',"),
    "%sql --refresh 200ms\nSELECT COUNT(*) AS n FROM clicks",
]


@pytest.fixture(scope="module")
def artifacts() -> pathlib.Path:
    folder = artifacts_dir("collaboration")
    print(f"\ncollaboration screenshots and log: {folder}")
    return folder


@pytest.fixture(scope="module")
def lab(tmp_path_factory, artifacts):
    root = tmp_path_factory.mktemp("collab-root")
    write_notebook(root / "shared.ipynb", CELLS)
    with lab_server(root, tmp_path_factory.mktemp("collab-state"), artifacts / "jupyterlab.log", collaborative=True) as server:
        yield server


@pytest.fixture(scope="module")
def pair(lab, artifacts):
    """Two browser contexts (two people) on the same notebook."""
    with chromium() as browser:
        first = NotebookPage.open(browser, lab, "shared.ipynb", artifacts, "first")
        second = NotebookPage.open(browser, lab, "shared.ipynb", artifacts, "second")
        try:
            yield first, second
        finally:
            first.close()
            second.close()


def wait_rows(nb: NotebookPage, index: int, expected: list[list[str]], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while nb.table_rows(index) != expected:
        assert time.monotonic() < deadline, f"cell {index} shows {nb.table_rows(index)}, not {expected}"
        time.sleep(0.2)


def test_both_see_one_document_and_one_kernel(pair) -> None:
    first, second = pair
    with first.step("both-open"):
        assert first.is_collaborative() and second.is_collaborative(), "real-time collaboration is off"
        assert first.kernel_id() == second.kernel_id()
    with first.step("first-ran-a-cell"):
        count = first.run_and_wait(VALUES)
        assert first.table_rows(VALUES) == [["1", "a"], ["2", "b"]]
    with second.step("second-sees-it"):
        # The second person ran nothing: the output and its count came through the shared document.
        wait_rows(second, VALUES, [["1", "a"], ["2", "b"]])
        assert second.prompt(VALUES) == f"[{count}]:"


def test_both_see_a_streaming_cell_update_in_place(pair) -> None:
    first, second = pair
    with first.step("stream-table-created"):
        first.run_and_wait(CREATE)
        assert not first.error_text(CREATE), first.error_text(CREATE)
    with first.step("stream-finished-first"):
        first.watch_output(COUNT, "count")
        second.watch_output(COUNT, "count")
        first.run_and_wait(COUNT, timeout_ms=120_000)
        assert first.table_rows(COUNT) == [["1000"]], first.output_text(COUNT)
    with second.step("stream-finished-second"):
        wait_rows(second, COUNT, [["1000"]])
        assert second.outputs(COUNT).count() == 1, second.output_text(COUNT)
    for nb in (first, second):
        assert_updated_in_place(nb.watched("count"), "1000")
