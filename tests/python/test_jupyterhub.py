"""Eddy on JupyterHub: two users, each with their own single-user server and Eddy kernels.

The test starts JupyterHub (the venv's `jupyterhub`, with the npm `configurable-http-proxy` that
dev/test installs into .venv/node) on 127.0.0.1: a dummy authenticator, and JupyterHub's
SimpleLocalProcessSpawner, which runs each user's single-user server as a local process with a
home of its own (real system users would need root's LocalProcessSpawner; the servers, kernels
and state are just as separate). The Eddy kernelspec is the one dev/test installs with
`eddy install --prefix TMP`; the single-user servers find it through JUPYTER_PATH, set in
`c.Spawner.environment`, as README's JupyterHub section says. Through the Hub's REST API the
test creates both users and starts their servers, then talks to each server as that user
(a token of the user's own): the kernels REST API starts an Eddy kernel, and the kernel
websocket (jupyter_server's JSON protocol) runs cells.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import re
import secrets
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
import websocket

from conftest import KERNEL_NAME
from lab_support import artifacts_dir, free_port, http_json, stop_process, tail, wait_until

VENV = pathlib.Path(sys.prefix)
PROXY = VENV / "node" / "node_modules" / ".bin" / "configurable-http-proxy"
SINGLEUSER = VENV / "bin" / "jupyterhub-singleuser"
USERS = ("alice", "bob")
START_TIMEOUT = 180.0


class Hub:
    """A JupyterHub process of the test's own, with an admin service token."""

    def __init__(self, state: pathlib.Path, log: pathlib.Path) -> None:
        self.state = state
        self.log = log
        self.port = free_port()
        self.token = secrets.token_hex(24)
        self.homes = state / "homes"
        self.homes.mkdir()
        config = state / "jupyterhub_config.py"
        extra_args = ["--allow-root"] if os.geteuid() == 0 else []
        config.write_text(
            textwrap.dedent(
                f"""\
                c = get_config()  # noqa
                c.JupyterHub.ip = "127.0.0.1"
                c.JupyterHub.port = {self.port}
                c.JupyterHub.hub_ip = "127.0.0.1"
                c.JupyterHub.hub_port = {free_port()}
                c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{free_port()}"
                c.ConfigurableHTTPProxy.command = [{str(PROXY)!r}]
                c.ConfigurableHTTPProxy.pid_file = {str(state / "proxy.pid")!r}
                c.JupyterHub.pid_file = {str(state / "jupyterhub.pid")!r}
                c.JupyterHub.db_url = "sqlite:///" + {str(state / "jupyterhub.sqlite")!r}
                c.JupyterHub.cookie_secret_file = {str(state / "cookie_secret")!r}

                c.JupyterHub.authenticator_class = "dummy"
                c.Authenticator.allow_all = True

                c.JupyterHub.spawner_class = "simple"
                c.SimpleLocalProcessSpawner.home_dir_template = {str(self.homes / "{username}")!r}
                c.Spawner.cmd = [{str(SINGLEUSER)!r}]
                c.Spawner.args = {extra_args!r}
                # The system-wide Eddy kernelspec: installed with `eddy install --prefix P`,
                # P/share/jupyter on every single-user server's Jupyter path.
                c.Spawner.environment = {{
                    "JUPYTER_PATH": {os.environ["JUPYTER_PATH"]!r},
                    "JUPYTER_PLATFORM_DIRS": "1",
                }}
                c.Spawner.start_timeout = {int(START_TIMEOUT)}
                c.Spawner.http_timeout = {int(START_TIMEOUT)}

                c.JupyterHub.services = [{{"name": "eddy-test", "api_token": {self.token!r}}}]
                c.JupyterHub.load_roles = [{{
                    "name": "eddy-test-admin",
                    "scopes": ["admin:users", "admin:servers", "tokens"],
                    "services": ["eddy-test"],
                }}]
                """
            )
        )
        self._log_file = open(log, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(config)],
            cwd=state,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until(self._ready, START_TIMEOUT, "JupyterHub's API")
        except AssertionError:
            self.stop()
            raise AssertionError(f"JupyterHub did not start; its log ({log}):\n{tail(log)}") from None

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"JupyterHub exited with {self.proc.returncode}:\n{tail(self.log)}")
        return "version" in http_json(self.url("hub/api/"), token=self.token)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def api(self, path: str, method: str = "GET", body=None, token: str | None = None):
        return http_json(self.url(f"hub/api/{path}"), method=method, body=body, token=token or self.token)

    def stop(self) -> None:
        for user in USERS:
            try:
                self.api(f"users/{user}/server", method="DELETE")
            except Exception:  # noqa: BLE001 - a user or server that never started
                pass
        stop_process(self.proc, timeout=60)
        self._log_file.close()


class KernelSocket:
    """An Eddy kernel on a single-user server, driven over the server's kernel websocket."""

    def __init__(self, server: str, token: str, kernel_id: str) -> None:
        self.kernel_id = kernel_id
        self.session = uuid.uuid4().hex
        ws_url = server.replace("http://", "ws://") + f"api/kernels/{kernel_id}/channels?session_id={self.session}"
        self.ws = websocket.create_connection(ws_url, header=[f"Authorization: token {token}"], timeout=60)

    def close(self) -> None:
        self.ws.close()

    def _send(self, channel: str, msg_type: str, content: dict) -> str:
        msg_id = uuid.uuid4().hex
        self.ws.send(
            json.dumps(
                {
                    "header": {
                        "msg_id": msg_id,
                        "msg_type": msg_type,
                        "session": self.session,
                        "username": "eddy-test",
                        "date": datetime.now(timezone.utc).isoformat(),
                        "version": "5.3",
                    },
                    "parent_header": {},
                    "metadata": {},
                    "content": content,
                    "channel": channel,
                    "buffers": [],
                }
            )
        )
        return msg_id

    def _replies(self, msg_id: str, reply_type: str, timeout: float) -> tuple[dict, list[dict]]:
        """The reply to msg_id and its iopub messages, up to the kernel's idle status."""
        deadline = time.monotonic() + timeout
        reply, iopub, idle = None, [], False
        while not (reply and idle):
            self.ws.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                msg = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                raise AssertionError(f"no {reply_type} for {msg_id} within {timeout} s") from None
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == reply_type:
                reply = msg
            elif msg["channel"] == "iopub":
                iopub.append(msg)
                idle = idle or (msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle")
        return reply, iopub

    def wait_ready(self, timeout: float = 120) -> dict:
        """kernel_info until the kernel answers (as jupyter_client's wait_for_ready does)."""
        deadline = time.monotonic() + timeout
        while True:
            msg_id = self._send("shell", "kernel_info_request", {})
            try:
                reply, _ = self._replies(msg_id, "kernel_info_reply", timeout=5)
                return reply["content"]
            except AssertionError:
                if time.monotonic() > deadline:
                    raise

    def execute(self, code: str, timeout: float = 120) -> tuple[dict, list[dict]]:
        msg_id = self._send(
            "shell",
            "execute_request",
            {"code": code, "silent": False, "store_history": True, "user_expressions": {},
             "allow_stdin": False, "stop_on_error": True},
        )
        reply, iopub = self._replies(msg_id, "execute_reply", timeout)
        return reply["content"], iopub


def rows(iopub: list[dict]) -> list[list[str]]:
    """The body rows of the HTML tables among a cell's outputs."""
    found = []
    for msg in iopub:
        html = msg["content"].get("data", {}).get("text/html", "")
        for body in re.findall(r"<tbody>(.*?)</tbody>", html, re.S):
            for tr in re.findall(r"<tr>(.*?)</tr>", body, re.S):
                found.append([re.sub(r"<[^>]+>", "", td).strip() for td in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)])
    return found


def errors(iopub: list[dict]) -> list[str]:
    return [f"{m['content']['ename']}: {m['content']['evalue']}" for m in iopub if m["msg_type"] == "error"]


def ok(kernel: KernelSocket, code: str) -> list[list[str]]:
    reply, iopub = kernel.execute(code)
    assert reply["status"] == "ok", f"{code!r} failed: {errors(iopub)}"
    return rows(iopub)


def kernel_process(kernel_id: str) -> dict:
    """The process running kernel_id: jupyter_server names the connection file after the kernel."""
    found = []
    for proc in pathlib.Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            if not any(f"kernel-{kernel_id}.json".encode() in arg for arg in argv):
                continue
            env = dict(
                line.split("=", 1) for line in (proc / "environ").read_text(errors="replace").split("\0") if "=" in line
            )
            stat = (proc / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        found.append({"pid": int(proc.name), "ppid": ppid, "argv": [a.decode() for a in argv if a], "home": env.get("HOME")})
    assert len(found) == 1, f"expected one process for kernel {kernel_id}, found {found}"
    return found[0]


@pytest.fixture(scope="module")
def hub(tmp_path_factory) -> Iterator[Hub]:
    for path, what in ((PROXY, "configurable-http-proxy (dev/test runs npm ci into .venv/node)"), (SINGLEUSER, "jupyterhub-singleuser")):
        if not os.access(path, os.X_OK):
            pytest.fail(f"{path} is missing: {what}")
    log = artifacts_dir("jupyterhub") / "jupyterhub.log"
    print(f"\nJupyterHub log: {log}")
    hub = Hub(tmp_path_factory.mktemp("hub"), log)
    yield hub
    hub.stop()


@pytest.fixture(scope="module")
def servers(hub: Hub) -> dict[str, tuple[str, str]]:
    """Each user's single-user server (URL, the user's own API token), started through the Hub."""
    for user in USERS:
        hub.api(f"users/{user}", method="POST")
        hub.api(f"users/{user}/server", method="POST")

    def ready(user: str) -> bool:
        model = hub.api(f"users/{user}")
        return model["servers"].get("", {}).get("ready", False)

    started = {}
    for user in USERS:
        try:
            wait_until(lambda user=user: ready(user), START_TIMEOUT, f"{user}'s single-user server", interval=0.5)
        except AssertionError as error:
            raise AssertionError(f"{error}\nJupyterHub log:\n{tail(hub.log, 60)}") from None
        token = hub.api(f"users/{user}/tokens", method="POST", body={"note": "eddy test", "expires_in": 3600})["token"]
        started[user] = (hub.url(f"user/{user}/"), token)
    return started


@pytest.fixture(scope="module")
def kernels(servers) -> Iterator[dict[str, KernelSocket]]:
    opened: dict[str, KernelSocket] = {}
    pids: list[int] = []
    try:
        for user, (server, token) in servers.items():
            specs = http_json(server + "api/kernelspecs", token=token)
            assert KERNEL_NAME in specs["kernelspecs"], f"{user}'s server has no eddy kernelspec: {list(specs['kernelspecs'])}"
            model = http_json(server + "api/kernels", method="POST", body={"name": KERNEL_NAME}, token=token)
            opened[user] = KernelSocket(server, token, model["id"])
            info = opened[user].wait_ready()
            assert info["language_info"]["name"] == "sql", info
            pids.append(kernel_process(model["id"])["pid"])
        yield opened
    finally:
        for user, kernel in opened.items():
            kernel.close()
            server, token = servers[user]
            try:  # shut the kernel down as JupyterLab's "Shut Down Kernel" does
                http_json(server + f"api/kernels/{kernel.kernel_id}", method="DELETE", token=token)
            except Exception:  # noqa: BLE001 - the server may be stopped already
                pass
        # Whatever this test started and is still running (see the last test) ends here.
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_each_user_gets_their_own_eddy_kernel_process(hub: Hub, kernels: dict[str, KernelSocket]) -> None:
    alice, bob = kernels["alice"], kernels["bob"]
    assert alice.kernel_id != bob.kernel_id
    procs = {user: kernel_process(kernels[user].kernel_id) for user in USERS}
    assert procs["alice"]["pid"] != procs["bob"]["pid"]
    for user, proc in procs.items():
        # Started from the kernelspec (the eddy binary), by that user's own single-user server.
        assert pathlib.Path(proc["argv"][0]).name == "eddy", proc
        assert proc["argv"][1] == "kernel", proc
        assert proc["home"] == str(hub.homes / user), proc
    assert procs["alice"]["ppid"] != procs["bob"]["ppid"], procs


def test_each_user_gets_correct_results(kernels: dict[str, KernelSocket]) -> None:
    for user, kernel in kernels.items():
        assert ok(kernel, "SELECT * FROM (VALUES (1,'a'),(2,'b')) AS t(n, s)") == [["1", "a"], ["2", "b"]], user
        assert ok(kernel, f"SELECT '{user}' AS who, 6 * 7 AS answer") == [[user, "42"]]


def test_a_table_one_user_creates_is_invisible_to_the_other(kernels: dict[str, KernelSocket]) -> None:
    alice, bob = kernels["alice"], kernels["bob"]
    ok(alice, "CREATE TABLE a_only AS VALUES (1)")
    ok(bob, "CREATE TABLE b_only AS VALUES (2)")

    assert ok(alice, "SELECT column1 * 10 AS x FROM a_only") == [["10"]]
    assert ok(bob, "SELECT column1 * 10 AS x FROM b_only") == [["20"]]

    for kernel, table in ((bob, "a_only"), (alice, "b_only")):
        reply, iopub = kernel.execute(f"SELECT * FROM {table}")
        assert reply["status"] == "error", f"{table} is visible to the other user: {rows(iopub)}"
        assert any(table in error for error in errors(iopub)), errors(iopub)

    # Each still has their own table after the other's failure.
    assert ok(alice, "SELECT count(*) AS n FROM a_only") == [["1"]]
    assert ok(bob, "SELECT count(*) AS n FROM b_only") == [["1"]]


def pid_alive(pid: int) -> bool:
    try:
        state = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_stopping_a_users_server_ends_their_kernel(hub: Hub, kernels: dict[str, KernelSocket]) -> None:
    """The Hub's admin (or the idle culler) stops a server: its Eddy kernels must not live on,
    holding memory on a shared machine, with no server left to reach them."""
    pid = kernel_process(kernels["alice"].kernel_id)["pid"]
    hub.api("users/alice/server", method="DELETE")
    wait_until(lambda: "" not in hub.api("users/alice")["servers"], START_TIMEOUT, "alice's server to stop")
    deadline = time.monotonic() + 10
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not pid_alive(pid), f"alice's eddy kernel (pid {pid}) still runs after her server stopped"
