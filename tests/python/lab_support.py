"""Helpers for the tests that drive real Jupyter frontends: a JupyterLab server of our own, the
system's headless Chromium through Playwright, and the page actions a user makes.

The browser is Debian's `chromium` (dev/test installs it with apt-get): Playwright's own browser
downloads do not work on these machines, so Playwright only drives /usr/bin/chromium.
Screenshots and server logs go to $EDDY_TEST_ARTIFACTS (default: tests/artifacts/, ignored by
git), one folder per test module.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import re
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import nbformat
import pytest

from conftest import KERNEL_NAME, REPO, free_port, stop_process

CHROMIUM = os.environ.get("EDDY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 900}

# Generous: two cores, and a Rust build may be running beside the tests.
SERVER_START_TIMEOUT = 120.0
KERNEL_READY_MS = 120_000
STEP_MS = 60_000


def artifacts_dir(group: str) -> pathlib.Path:
    """Where a test module's screenshots and logs go: $EDDY_TEST_ARTIFACTS/GROUP."""
    root = pathlib.Path(os.environ.get("EDDY_TEST_ARTIFACTS") or REPO / "tests" / "artifacts")
    folder = root / group
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def wait_until(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.25) -> Any:
    """Polls `condition` until it returns something truthy; fails naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except AssertionError:
            raise  # the condition knows it can no longer come true (a server exited)
        except Exception as error:  # noqa: BLE001 - polled services refuse until they are up
            last_error = error
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last error: {last_error!r})")


def http_json(url: str, method: str = "GET", body: Any = None, token: str | None = None, timeout: float = 30) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"token {token}")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        text = response.read().decode()
    return json.loads(text) if text else None


def tail(path: pathlib.Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def write_notebook(path: pathlib.Path, sources: list[str]) -> pathlib.Path:
    """A notebook with the Eddy kernelspec in its metadata: JupyterLab starts that kernel for it."""
    nb = nbformat.v4.new_notebook(
        metadata={
            "kernelspec": {"name": KERNEL_NAME, "display_name": "Eddy (SQL)", "language": "sql"},
            "language_info": {"name": "sql"},
        },
        cells=[nbformat.v4.new_code_cell(source) for source in sources],
    )
    nbformat.write(nb, path)
    return path


class Lab:
    """A JupyterLab server started by a test, on 127.0.0.1 with a token of its own."""

    def __init__(self, root: pathlib.Path, state: pathlib.Path, log: pathlib.Path, *, collaborative: bool) -> None:
        self.root = root
        self.log = log
        self.token = secrets.token_hex(16)
        self.port = free_port()
        settings = state / "settings"
        # A fresh settings dir, with the news and update toasts off: they cover the page.
        notification = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
        notification.parent.mkdir(parents=True, exist_ok=True)
        notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
        args = [
            sys.executable, "-m", "jupyter", "lab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={root}",
            f"--IdentityProvider.token={self.token}",
            f"--LabApp.user_settings_dir={settings}",
            f"--LabApp.workspaces_dir={state / 'workspaces'}",
            # window.jupyterapp: the tests wait on the notebook's kernel itself.
            "--LabApp.expose_app_in_browser=True",
            # jupyter-collaboration is installed in the venv; without it JupyterLab is the plain
            # single-user editor most people install Eddy into.
            f"--YDocExtension.disable_rtc={not collaborative}",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.append("--allow-root")
        self._log_file = open(log, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(args, cwd=state, stdout=self._log_file, stderr=subprocess.STDOUT)
        try:
            wait_until(self._ready, SERVER_START_TIMEOUT, f"JupyterLab on port {self.port}")
        except AssertionError:
            self.stop()
            raise AssertionError(f"JupyterLab did not start; its log ({log}):\n{tail(log)}") from None

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"JupyterLab exited with {self.proc.returncode}:\n{tail(self.log)}")
        return http_json(self.url("api/status"), token=self.token) is not None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def notebook_url(self, name: str, workspace: str) -> str:
        """The page that opens notebook `name` in a workspace of its own (no tabs restored from
        another page) and logs in with the token."""
        return self.url(f"lab/workspaces/{workspace}/tree/{name}?token={self.token}")

    def kernels(self) -> list[dict]:
        return http_json(self.url("api/kernels"), token=self.token)

    def stop(self) -> None:
        stop_process(self.proc)
        self._log_file.close()


@contextlib.contextmanager
def lab_server(root: pathlib.Path, state: pathlib.Path, log: pathlib.Path, *, collaborative: bool = False) -> Iterator[Lab]:
    lab = Lab(root, state, log, collaborative=collaborative)
    try:
        yield lab
    finally:
        lab.stop()


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """Headless Debian Chromium under Playwright."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: dev/test installs Debian's chromium (or set EDDY_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class NotebookPage:
    """One browser tab on one notebook in JupyterLab, driven as a user drives it."""

    kernel_name = KERNEL_NAME

    def __init__(self, page: Any, artifacts: pathlib.Path, prefix: str) -> None:
        self.page = page
        self.artifacts = artifacts
        self.prefix = prefix
        self.shots = 0
        page.set_default_timeout(STEP_MS)

    @classmethod
    def open(cls, browser: Any, lab: Lab, name: str, artifacts: pathlib.Path, prefix: str) -> NotebookPage:
        context = browser.new_context(viewport=VIEWPORT)
        page = context.new_page()
        nb = cls(page, artifacts, prefix)
        page.goto(lab.notebook_url(name, workspace=f"{prefix}-{secrets.token_hex(4)}"))
        nb.wait_for_kernel(name)
        return nb

    def close(self) -> None:
        self.page.context.close()

    # --- state of the app --------------------------------------------------------------------

    def wait_for_kernel(self, name: str | None = None) -> None:
        """Waits until the notebook's kernel is connected and idle. The toolbar says "idle" before
        the session exists, so this asks the session itself (window.jupyterapp)."""
        self.page.wait_for_function(
            """([name, kernelName]) => {
                const widget = window.jupyterapp?.shell?.currentWidget;
                if (!widget?.sessionContext || (name && !widget.context.path.endsWith(name))) return false;
                const kernel = widget.sessionContext.session?.kernel;
                return !!kernel && kernel.name === kernelName && kernel.connectionStatus === 'connected'
                    && kernel.status === 'idle' && widget.content.widgets.length > 0;
            }""",
            arg=[name, self.kernel_name],
            timeout=KERNEL_READY_MS,
        )

    def is_collaborative(self) -> bool:
        """Whether the notebook is a shared (jupyter-collaboration) document."""
        return self.page.evaluate("() => window.jupyterapp.shell.currentWidget.context.model.collaborative === true")

    def kernel_id(self) -> str:
        return self.page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.id")

    # --- cells -------------------------------------------------------------------------------

    def panel(self) -> Any:
        """The notebook panel on show."""
        return self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")

    def cell(self, index: int) -> Any:
        return self.panel().locator(".jp-Notebook .jp-Cell").nth(index)

    def click_toolbar(self, command: str) -> None:
        """Clicks the notebook toolbar's button for `command` (e.g. notebook:interrupt-kernel)."""
        self.panel().locator(f".jp-NotebookPanel-toolbar [data-command='{command}']").click()

    def prompt(self, index: int) -> str:
        return self.cell(index).locator(".jp-InputPrompt").first.inner_text().strip()

    def focus_editor(self, index: int) -> None:
        """Clicks into the cell's editor, as a user does before typing or running it."""
        editor = self.cell(index).locator(".jp-InputArea-editor .cm-content")
        editor.scroll_into_view_if_needed()
        editor.click()

    def run_cell(self, index: int) -> None:
        """Selects the cell and runs it with Shift+Enter (the prompt turns to [*] and then to a
        number; wait for that with wait_for_cell_done)."""
        self.focus_editor(index)
        self.page.keyboard.press("Escape")  # command mode: Shift+Enter runs the selected cell
        self.page.keyboard.press("Shift+Enter")

    def wait_for_cell_done(self, index: int, timeout_ms: int = STEP_MS) -> int:
        """Waits until the cell's prompt holds an execution count; returns it."""
        prompt = self.cell(index).locator(".jp-InputPrompt").first
        deadline = time.monotonic() + timeout_ms / 1000
        while True:
            text = prompt.inner_text().strip()
            match = re.fullmatch(r"\[(\d+)\]:", text)
            if match:
                return int(match.group(1))
            if time.monotonic() > deadline:
                raise AssertionError(f"cell {index} did not finish: its prompt is {text!r}")
            time.sleep(0.2)

    def run_and_wait(self, index: int, timeout_ms: int = STEP_MS) -> int:
        """Runs the cell and waits until this run (not an earlier one) has finished; returns its
        execution count."""
        cell = self.cell(index).element_handle()
        # The prompt turns to [*] and then to a count, which may equal the old one (after a
        # restart): watch for the [*], however briefly it shows.
        self.page.evaluate(
            """(cell) => {
                const prompt = cell.querySelector('.jp-InputPrompt');
                cell.__eddyPrompt?.disconnect();
                cell.__eddyRunning = false;
                cell.__eddyPrompt = new MutationObserver(() => {
                    if (prompt.textContent.trim() === '[*]:') cell.__eddyRunning = true;
                });
                cell.__eddyPrompt.observe(prompt, { childList: true, subtree: true, characterData: true });
            }""",
            cell,
        )
        self.run_cell(index)
        self.page.wait_for_function("(cell) => cell.__eddyRunning === true", arg=cell, timeout=timeout_ms)
        return self.wait_for_cell_done(index, timeout_ms)

    def outputs(self, index: int) -> Any:
        return self.cell(index).locator(".jp-OutputArea-output")

    def output_text(self, index: int) -> str:
        return self.cell(index).locator(".jp-OutputArea").inner_text()

    def error_text(self, index: int) -> str:
        errors = self.cell(index).locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        return "\n".join(errors.all_inner_texts())

    def rendered(self, index: int, selector: str, timeout_ms: int = 15_000) -> Any:
        """The elements matching `selector` in the cell's output area, once there is one: JupyterLab
        renders an output (HTML, Markdown, Vega) asynchronously, after the prompt got its count."""
        found = self.cell(index).locator(".jp-OutputArea").locator(selector)
        try:
            found.first.wait_for(timeout=timeout_ms)
        except Exception as error:  # noqa: BLE001 - Playwright's TimeoutError
            raise AssertionError(
                f"no {selector!r} in cell {index}'s output: {self.output_text(index)!r}"
            ) from error
        return found

    def table_rows(self, index: int, timeout: float = 15) -> list[list[str]]:
        """The body rows of the HTML result table(s) of a cell ([] when none is rendered within
        `timeout` s)."""
        deadline = time.monotonic() + timeout
        while True:
            rows = self.page.evaluate(
                """(cell) => [...cell.querySelectorAll('.jp-OutputArea-output table tbody tr')]
                       .map(tr => [...tr.querySelectorAll('td')].map(td => td.innerText.trim()))""",
                self.cell(index).element_handle(),
            )
            if rows or time.monotonic() > deadline:
                return rows
            time.sleep(0.1)

    # --- live outputs ------------------------------------------------------------------------

    def watch_output(self, index: int, key: str) -> None:
        """Records, at every change of the cell's output area (a MutationObserver), the values
        in its result table and how many outputs the area holds; read with watched(key)."""
        cell = self.cell(index).element_handle()
        self.page.evaluate("([cell, key]) => { cell.dataset.eddyWatch = key; }", [cell, key])
        self.page.evaluate(WATCH_JS, cell)

    def watched(self, key: str) -> dict:
        return self.page.evaluate("(key) => window.__eddyWatch[key]", key)

    # --- artifacts ---------------------------------------------------------------------------

    def screenshot(self, step: str) -> pathlib.Path:
        self.shots += 1
        path = self.artifacts / f"{self.prefix}-{self.shots:02d}-{step}.png"
        self.page.screenshot(path=str(path), full_page=False)
        return path

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        """A user-visible step: a screenshot when it ends, and a FAILED one (plus the path in
        the failure message) when it does not."""
        try:
            yield
        except BaseException as error:
            try:
                shot = self.screenshot(f"{name}-FAILED")
                note = f"\n(screenshot: {shot})"
            except Exception as shot_error:  # noqa: BLE001
                note = f"\n(no screenshot: {shot_error})"
            if isinstance(error, AssertionError):
                raise AssertionError(f"{error}{note}") from error
            raise
        self.screenshot(name)


WATCH_JS = """(cell) => {
    const area = cell.querySelector('.jp-OutputArea');
    const watch = { values: [], maxChildren: 0, mutations: 0 };
    const record = () => {
        watch.mutations++;
        watch.maxChildren = Math.max(watch.maxChildren, area.querySelectorAll(':scope > .jp-OutputArea-child').length);
        const value = [...area.querySelectorAll('table td')].map(td => td.innerText.trim()).join('|');
        if (value && value !== watch.values[watch.values.length - 1]) watch.values.push(value);
    };
    new MutationObserver(record).observe(area, { childList: true, subtree: true, characterData: true });
    window.__eddyWatch = window.__eddyWatch || {};
    window.__eddyWatch[cell.dataset.eddyWatch] = watch;
}"""


def assert_updated_in_place(watch: dict, final: str) -> None:
    """A live count: several different values, growing, in one output area, ending on `final`."""
    values = watch["values"]
    assert watch["maxChildren"] == 1, f"the cell showed {watch['maxChildren']} outputs at once: {values}"
    assert len(values) >= 3, f"the output changed only {len(values)} times: {values}"
    counts = [int(v) for v in values]
    assert counts == sorted(counts), f"the count went down: {counts}"
    assert values[-1] == final, f"ended on {values[-1]}, not {final}: {values}"


# The streaming source of issue 5's tests: `rows` is "'number-of-rows'='1000'," for a bounded
# one (1000 rows at 200 rows/s: about 5 s) or "" for an unbounded one.
CLICKS_DDL = (
    "CREATE TABLE {name} (user_id INT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) "
    "WITH ('connector'='datagen','rows-per-second'='200',{rows}"
    "'fields.user_id.min'='1','fields.user_id.max'='5')"
)
