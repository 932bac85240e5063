"""Eddy in JupyterLab, in a real browser, driven as a user drives it.

JupyterLab (the venv's jupyterlab) runs on 127.0.0.1 with the "eddy" kernelspec that dev/test
installs into its temporary prefix (found through JUPYTER_PATH); Debian's headless Chromium
opens a notebook whose metadata names the Eddy kernel, and each test runs cells through the
page: clicks, Shift+Enter, the toolbar, the menus and the keyboard. Every step saves a
screenshot under $EDDY_TEST_ARTIFACTS/jupyterlab/ (default tests/artifacts/jupyterlab/), and the
server's log beside them.
"""

from __future__ import annotations

import pathlib
import time

import pytest

from lab_support import (
    NotebookPage,
    artifacts_dir,
    CLICKS_DDL,
    assert_updated_in_place,
    chromium,
    lab_server,
    write_notebook,
)

VALUES = "SELECT * FROM (VALUES (1,'a'),(2,'b')) AS t(n, s)"
CHART_DESCRIPTION = "Bar chart of n by s"  # what the kernel's spec says: kernel/src/render/chart.rs

# The notebook a user opens; the tests run its cells by index.
SQL, CHART, MD, TABLES, COMPLETE, ANSWER, LONG, AFTER_LONG = range(8)
CELLS = [
    f"%sql\n{VALUES}",
    f"%sql --chart bar --x s --y n\n{VALUES}",
    "%md\n# Hello",
    "CREATE TABLE mytable AS VALUES (1);\nCREATE TABLE mytickets AS VALUES (2)",
    "",  # typed into by the completion test
    "SELECT 41 + 1 AS answer",
    # Runs for hours unless interrupted.
    "SELECT count(*) AS n FROM generate_series(1, 1000000000000)",
    "SELECT 41 + 1 AS answer",
]

# Streaming: a bounded source (1000 rows at 200 rows/s: ~5 s) and an unbounded one.
S_CREATE, S_COUNT, S_CREATE_FOREVER, S_COUNT_FOREVER, S_AFTER = range(5)
STREAM_CELLS = [
    CLICKS_DDL.format(name="clicks", rows="'number-of-rows'='1000',"),
    "%sql --refresh 200ms\nSELECT COUNT(*) AS n FROM clicks",
    CLICKS_DDL.format(name="clicks_forever", rows=""),
    "%sql --refresh 200ms\nSELECT COUNT(*) AS n FROM clicks_forever",
    "SELECT 6 * 7 AS answer",
]


@pytest.fixture(scope="module")
def artifacts() -> pathlib.Path:
    folder = artifacts_dir("jupyterlab")
    print(f"\nJupyterLab screenshots and log: {folder}")
    return folder


@pytest.fixture(scope="module")
def lab(tmp_path_factory, artifacts):
    root = tmp_path_factory.mktemp("lab-root")
    write_notebook(root / "eddy.ipynb", CELLS)
    write_notebook(root / "streaming.ipynb", STREAM_CELLS)
    with lab_server(root, tmp_path_factory.mktemp("lab-state"), artifacts / "jupyterlab.log") as server:
        yield server


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def notebook(browser, lab, artifacts):
    nb = NotebookPage.open(browser, lab, "eddy.ipynb", artifacts, "lab")
    nb.screenshot("opened")
    assert not nb.is_collaborative(), "this is the plain JupyterLab test: collaboration should be off"
    yield nb
    nb.close()


@pytest.fixture(scope="module")
def streaming_notebook(browser, lab, artifacts):
    nb = NotebookPage.open(browser, lab, "streaming.ipynb", artifacts, "stream")
    yield nb
    nb.close()


@pytest.fixture(autouse=True)
def _no_popups_left(request):
    """A test that failed half-way may leave a menu, dialog or completer open: close it."""
    yield
    for name in ("notebook", "streaming_notebook"):
        if name in request.node.funcargs:
            page = request.node.funcargs[name].page
            for _ in range(2):
                page.keyboard.press("Escape")


def test_sql_cell_shows_an_html_table(notebook: NotebookPage) -> None:
    with notebook.step("sql-table"):
        notebook.run_and_wait(SQL)
        table = notebook.rendered(SQL, "table.eddy-table")
        assert table.count() == 1, notebook.output_text(SQL)
        headers = [h.split("\n")[0].strip() for h in table.locator("thead th").all_inner_texts()]
        assert headers == ["n", "s"]
        assert notebook.table_rows(SQL) == [["1", "a"], ["2", "b"]]


# Counts the chart's coloured pixels per column of the canvas (or, for an SVG renderer, the
# marks' bounding boxes): each bar is a run of columns, its height the most pixels in a column.
BARS_JS = """(cell) => {
    const chart = cell.querySelector('.jp-RenderedVegaLite [role="graphics-document"]');
    if (!chart) return null;
    const label = chart.getAttribute('aria-label');
    const canvas = chart.querySelector('canvas');
    if (canvas) {
        const { width, height } = canvas;
        if (!width || !height) return { label, bars: [] };
        const data = canvas.getContext('2d').getImageData(0, 0, width, height).data;
        const bars = [];
        let run = null;
        for (let x = 0; x < width; x++) {
            let count = 0;
            for (let y = 0; y < height; y++) {
                const i = (y * width + x) * 4;
                const [r, g, b, a] = [data[i], data[i + 1], data[i + 2], data[i + 3]];
                // Axes, grid and text are grey; the bars are a colour.
                if (a > 200 && Math.max(r, g, b) - Math.min(r, g, b) > 40) count++;
            }
            if (count > 0) {
                if (!run) { run = { from: x, height: 0 }; bars.push(run); }
                run.height = Math.max(run.height, count);
            } else {
                run = null;
            }
        }
        return { label, renderer: 'canvas', bars: bars.filter(b => b.height > 2).map(b => b.height) };
    }
    const marks = [...chart.querySelectorAll('svg .mark-rect path')]
        .map(p => p.getBBox()).filter(box => box.width > 0 && box.height > 0);
    return { label, renderer: 'svg', bars: marks.map(box => box.height) };
}"""


def test_chart_cell_draws_the_vega_lite_chart(notebook: NotebookPage) -> None:
    with notebook.step("vega-chart"):
        notebook.run_and_wait(CHART)
        # JupyterLab's own Vega-Lite renderer drew it (not the text/plain or SVG fallback).
        notebook.rendered(CHART, ".jp-OutputArea-output.jp-RenderedVegaLite")
        assert notebook.outputs(CHART).count() == 1, notebook.output_text(CHART)
        cell = notebook.cell(CHART).element_handle()
        deadline = time.monotonic() + 30
        drawn = None
        while time.monotonic() < deadline:
            drawn = notebook.page.evaluate(BARS_JS, cell)
            if drawn and len(drawn["bars"]) >= 2:
                break
            time.sleep(0.25)
        assert drawn, "no Vega chart element in the output"
        assert drawn["label"] == CHART_DESCRIPTION
        bars = drawn["bars"]
        assert len(bars) == 2, f"expected two bars (a: 1, b: 2), found {drawn}"
        # n = 1 and n = 2 on a zero-based axis: the second bar is twice as tall.
        assert abs(bars[1] / bars[0] - 2) < 0.15, f"bar heights {bars} are not 1:2"


def test_md_cell_renders_the_heading(notebook: NotebookPage) -> None:
    with notebook.step("markdown"):
        notebook.run_and_wait(MD)
        heading = notebook.rendered(MD, "h1")
        assert heading.count() == 1, notebook.output_text(MD)
        # JupyterLab appends an anchor link (¶) to headings.
        assert heading.inner_text().replace("\u00b6", "").strip() == "Hello"
        assert notebook.outputs(MD).first.get_attribute("data-mime-type") == "text/markdown"


def test_tab_completes_a_table_name(notebook: NotebookPage) -> None:
    page = notebook.page
    with notebook.step("tables-created"):
        notebook.run_and_wait(TABLES)
        assert "mytable" in notebook.output_text(TABLES)
    with notebook.step("completer"):
        notebook.focus_editor(COMPLETE)
        page.keyboard.press("ControlOrMeta+a")
        page.keyboard.press("Backspace")
        page.keyboard.type("SELECT * FROM myt")
        page.keyboard.press("Tab")
        completer = page.locator(".jp-Completer:visible")
        completer.wait_for()
        offered = completer.locator(".jp-Completer-item").evaluate_all("items => items.map(i => i.dataset.value)")
        assert "mytable" in offered and "mytickets" in offered, offered
    with notebook.step("completed-and-run"):
        completer.locator(".jp-Completer-item[data-value='mytable']").click()
        editor = notebook.cell(COMPLETE).locator(".cm-content")
        assert editor.inner_text().strip() == "SELECT * FROM mytable"
        notebook.run_and_wait(COMPLETE)
        assert notebook.table_rows(COMPLETE) == [["1"]]


def _click_stop(notebook: NotebookPage) -> None:
    """The toolbar's ■ (interrupt the kernel)."""
    notebook.click_toolbar("notebook:interrupt-kernel")


def _wait_running(notebook: NotebookPage, index: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while notebook.prompt(index) != "[*]:":
        assert time.monotonic() < deadline, f"cell {index} never started: prompt {notebook.prompt(index)!r}"
        time.sleep(0.1)


def test_stop_button_interrupts_a_long_query(notebook: NotebookPage) -> None:
    kernel = notebook.kernel_id()
    with notebook.step("long-query-running"):
        notebook.run_cell(LONG)
        _wait_running(notebook, LONG)
        time.sleep(2)
        assert notebook.prompt(LONG) == "[*]:", "the query ended by itself: it cannot test the stop button"
    with notebook.step("long-query-stopped"):
        _click_stop(notebook)
        stopped_at = notebook.wait_for_cell_done(LONG, timeout_ms=30_000)
        assert "interrupted" in notebook.output_text(LONG).lower(), notebook.output_text(LONG)
    with notebook.step("after-stop"):
        count = notebook.run_and_wait(AFTER_LONG)
        assert notebook.table_rows(AFTER_LONG) == [["42"]]
        # The same kernel, not a new one: its execution count went on.
        assert count == stopped_at + 1
        assert notebook.kernel_id() == kernel


def test_restart_kernel_from_the_menu(notebook: NotebookPage) -> None:
    page = notebook.page
    with notebook.step("before-restart"):
        before = notebook.run_and_wait(ANSWER)
        assert notebook.table_rows(ANSWER) == [["42"]]
    with notebook.step("restart-dialog"):
        page.evaluate(
            """() => {
                window.__eddyRestarted = false;
                window.jupyterapp.shell.currentWidget.sessionContext.statusChanged.connect((_, status) => {
                    if (status === 'restarting' || status === 'autorestarting') window.__eddyRestarted = true;
                });
            }"""
        )
        page.get_by_role("menuitem", name="Kernel", exact=True).click()
        page.locator(".lm-Menu-item[data-command='kernelmenu:restart']").click()
        dialog = page.locator(".jp-Dialog")
        dialog.wait_for()
        assert "Restart" in dialog.inner_text()
    with notebook.step("restarted"):
        dialog.locator("button.jp-mod-accept").click()
        dialog.wait_for(state="detached")
        page.wait_for_function("() => window.__eddyRestarted === true")
        notebook.wait_for_kernel()
    with notebook.step("run-after-restart"):
        after = notebook.run_and_wait(ANSWER)
        assert notebook.table_rows(ANSWER) == [["42"]]
        # A fresh kernel process counts from 1 again; the old one would have said before + 1.
        assert before >= 1 and after == 1, (before, after)


# ---- streaming: live queries over datagen tables (README's "Streams") ----

def test_streaming_cell_updates_its_output_in_place(streaming_notebook: NotebookPage) -> None:
    nb = streaming_notebook
    with nb.step("clicks-created"):
        nb.run_and_wait(S_CREATE)
        assert not nb.error_text(S_CREATE), nb.error_text(S_CREATE)
    with nb.step("streaming-count"):
        nb.watch_output(S_COUNT, "count")
        nb.run_and_wait(S_COUNT, timeout_ms=120_000)
        assert nb.table_rows(S_COUNT) == [["1000"]], nb.output_text(S_COUNT)
        assert nb.outputs(S_COUNT).count() == 1, nb.output_text(S_COUNT)
        assert_updated_in_place(nb.watched("count"), "1000")


def test_stop_button_stops_an_unbounded_stream(streaming_notebook: NotebookPage) -> None:
    nb = streaming_notebook
    kernel = nb.kernel_id()
    with nb.step("unbounded-created"):
        nb.run_and_wait(S_CREATE_FOREVER)
        assert not nb.error_text(S_CREATE_FOREVER), nb.error_text(S_CREATE_FOREVER)
    with nb.step("unbounded-running"):
        nb.watch_output(S_COUNT_FOREVER, "forever")
        nb.run_cell(S_COUNT_FOREVER)
        _wait_running(nb, S_COUNT_FOREVER)
        deadline = time.monotonic() + 60
        while len(nb.watched("forever")["values"]) < 3:
            assert time.monotonic() < deadline, f"the live count did not move: {nb.watched('forever')}"
            time.sleep(0.2)
        assert nb.prompt(S_COUNT_FOREVER) == "[*]:", "an unbounded stream ended by itself"
        assert nb.watched("forever")["maxChildren"] == 1, nb.watched("forever")
    with nb.step("unbounded-stopped"):
        _click_stop(nb)
        stopped_at = nb.wait_for_cell_done(S_COUNT_FOREVER, timeout_ms=30_000)
        seen = len(nb.watched("forever")["values"])
        time.sleep(2)  # a stopped stream no longer updates its output
        watch = nb.watched("forever")
        assert len(watch["values"]) == seen, watch
        # The stopped stream keeps its last result on screen (an interruption note may follow).
        assert watch["maxChildren"] <= 2, watch
        last = nb.table_rows(S_COUNT_FOREVER)
        assert last and last[0][0] == watch["values"][-1].split("|")[0], (last, watch)
        assert int(last[0][0]) > 0, last
    with nb.step("after-stop"):
        count = nb.run_and_wait(S_AFTER)
        assert nb.table_rows(S_AFTER) == [["42"]], nb.output_text(S_AFTER)
        assert count == stopped_at + 1
        assert nb.kernel_id() == kernel
