"""A thin driver for one real Eddy kernel, shared by the fuzz and soak tests.

It starts the "eddy" kernelspec with jupyter_client's KernelManager (so the kernel runs exactly
as under Jupyter), talks to it with a blocking client, and adds what those tests need on top:
a cell run that collects every iopub message of the cell and fails loudly when the reply does
not come, complete/inspect/is_complete requests, an interrupt on the control channel, a
heartbeat round trip timed on a socket of our own, and the kernel process's resident memory.
The kernel's stderr (its log, and any panic message) goes to a file the tests can show.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import pathlib
import queue
import time
from typing import Any

import zmq
from jupyter_client.manager import KernelManager

from conftest import KERNEL_NAME


class NoReply(AssertionError):
    """The kernel did not answer a request in time (a hang, or a dead shell)."""


@dataclasses.dataclass
class CellRun:
    code: str
    msg_id: str
    reply: dict[str, Any]
    iopub: list[dict[str, Any]]
    seconds: float

    @property
    def status(self) -> str:
        return self.reply["content"].get("status", "")

    @property
    def ename(self) -> str:
        return self.reply["content"].get("ename", "")

    @property
    def evalue(self) -> str:
        return self.reply["content"].get("evalue", "")

    def outputs(self, msg_type: str) -> list[dict[str, Any]]:
        return [m for m in self.iopub if m["header"]["msg_type"] == msg_type]

    def text(self) -> str:
        """Every text/plain (or traceback) the cell showed, in order."""
        parts = []
        for m in self.iopub:
            content = m["content"]
            if "data" in content:
                parts.append(str(content["data"].get("text/plain", "")))
            elif m["header"]["msg_type"] == "error":
                parts.append("\n".join(content.get("traceback", [])))
            elif m["header"]["msg_type"] == "stream":
                parts.append(content.get("text", ""))
        return "\n".join(parts)


class KernelDriver:
    def __init__(self, cwd: pathlib.Path, log_path: pathlib.Path, env: dict[str, str] | None = None):
        self.cwd = cwd
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.km = KernelManager(kernel_name=KERNEL_NAME)
        kernel_env = dict(os.environ)
        kernel_env.setdefault("RUST_BACKTRACE", "1")
        kernel_env.update(env or {})
        self.km.start_kernel(cwd=str(cwd), env=kernel_env, stdout=self._log, stderr=self._log)
        self.kc = self.km.blocking_client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=120)
        self._hb: zmq.Socket | None = None
        self._ctx = zmq.Context.instance()
        # iopub messages read on the way that belong to other requests (background queries'
        # updates, mostly), counted by (parent msg_id, msg_type).
        self.others: collections.Counter[tuple[str, str]] = collections.Counter()

    # ---- lifecycle ----

    @property
    def pid(self) -> int:
        provisioner = self.km.provisioner
        pid = getattr(provisioner, "pid", None)
        if pid is None:
            pid = provisioner.process.pid  # type: ignore[union-attr]
        return int(pid)

    def is_alive(self) -> bool:
        return bool(self.km.is_alive())

    def exit_code(self) -> int | None:
        process = getattr(self.km.provisioner, "process", None)
        return None if process is None else process.poll()

    def shutdown(self) -> None:
        try:
            self.kc.stop_channels()
        finally:
            if self._hb is not None:
                self._hb.close(linger=0)
                self._hb = None
            try:
                self.km.shutdown_kernel(now=False)
            except Exception:
                self.km.shutdown_kernel(now=True)
            self._log.close()

    def log_size(self) -> int:
        """Where the kernel's log ends now: pass it to log_tail to see only what came after."""
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def log_tail(self, chars: int = 4000, since: int = 0) -> str:
        """The last `chars` characters the kernel logged (after offset `since`)."""
        try:
            text = self.log_path.read_bytes()[since:][-chars:]
        except OSError:
            return ""
        return text.decode("utf-8", "replace")

    # ---- shell ----

    def _reply(self, msg_id: str, timeout: float, what: str) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise NoReply(f"no {what} within {timeout:.0f} s")
            try:
                reply = self.kc.get_shell_msg(timeout=remaining)
            except queue.Empty:
                continue
            if reply["parent_header"].get("msg_id") == msg_id:
                return reply

    def execute(
        self,
        code: str,
        timeout: float = 60.0,
        user_expressions: dict[str, str] | None = None,
    ) -> CellRun:
        """Runs a cell; returns its reply and its iopub messages (up to its `idle`)."""
        started = time.monotonic()
        msg_id = self.kc.execute(code, user_expressions=user_expressions or {}, stop_on_error=False)
        return self.finish(code, msg_id, started, timeout)

    def finish(
        self, code: str, msg_id: str, started: float, timeout: float, seen: list[dict[str, Any]] | None = None
    ) -> CellRun:
        """Reads the cell's iopub messages up to its idle, then its reply; `seen` are the
        messages of the cell already read (by wait_started)."""
        deadline = started + timeout
        messages: list[dict[str, Any]] = list(seen or [])
        idle = False
        while not idle:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise NoReply(f"no idle status on iopub within {timeout:.0f} s")
            try:
                message = self.kc.get_iopub_msg(timeout=min(remaining, 1.0))
            except queue.Empty:
                if not self.is_alive():
                    raise NoReply(f"the kernel process exited (code {self.exit_code()}) while the cell ran")
                continue
            if message["parent_header"].get("msg_id") != msg_id:
                self._other(message)  # a background query's update, or an earlier request's status
                continue
            messages.append(message)
            idle = message["header"]["msg_type"] == "status" and message["content"]["execution_state"] == "idle"
        reply = self._reply(msg_id, max(deadline - time.monotonic(), 1.0), "execute_reply")
        return CellRun(code, msg_id, reply, messages, time.monotonic() - started)

    def wait_started(self, msg_id: str, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Waits for the cell's execute_input (it is running, not queued); returns what came."""
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            try:
                message = self.kc.get_iopub_msg(timeout=0.5)
            except queue.Empty:
                continue
            if message["parent_header"].get("msg_id") != msg_id:
                self._other(message)
                continue
            seen.append(message)
            if message["header"]["msg_type"] == "execute_input":
                return seen
        raise NoReply(f"no execute_input within {timeout:.0f} s")

    def drain_iopub(self) -> int:
        """Reads and drops the iopub messages already here (background queries' updates)."""
        n = 0
        while True:
            try:
                message = self.kc.get_iopub_msg(timeout=0)
            except queue.Empty:
                return n
            self._other(message)
            n += 1

    def _other(self, message: dict[str, Any]) -> None:
        self.others[(message["parent_header"].get("msg_id", ""), message["header"]["msg_type"])] += 1

    def complete(self, code: str, cursor_pos: int, timeout: float = 30.0) -> dict[str, Any]:
        msg_id = self.kc.complete(code, cursor_pos)
        return self._reply(msg_id, timeout, "complete_reply")

    def inspect(self, code: str, cursor_pos: int, detail_level: int = 0, timeout: float = 30.0) -> dict[str, Any]:
        msg_id = self.kc.inspect(code, cursor_pos, detail_level)
        return self._reply(msg_id, timeout, "inspect_reply")

    def is_complete(self, code: str, timeout: float = 30.0) -> dict[str, Any]:
        msg_id = self.kc.is_complete(code)
        return self._reply(msg_id, timeout, "is_complete_reply")

    def kernel_info(self, timeout: float = 30.0) -> dict[str, Any]:
        msg_id = self.kc.kernel_info()
        return self._reply(msg_id, timeout, "kernel_info_reply")

    # ---- control ----

    def interrupt(self, timeout: float = 30.0) -> dict[str, Any]:
        """interrupt_request on the control channel (the kernelspec's interrupt_mode is
        "message"); returns the interrupt_reply."""
        message = self.kc.session.msg("interrupt_request", {})
        self.kc.control_channel.send(message)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise NoReply(f"no interrupt_reply within {timeout:.0f} s")
            try:
                reply = self.kc.get_control_msg(timeout=remaining)
            except queue.Empty:
                continue
            if reply["parent_header"].get("msg_id") == message["header"]["msg_id"]:
                return reply

    # ---- heartbeat ----

    def heartbeat(self, timeout: float = 5.0) -> float | None:
        """Round trip of one heartbeat, in seconds, on a REQ socket of our own; None if the
        echo did not come within `timeout`."""
        if self._hb is None:
            info = self.km.get_connection_info()
            self._hb = self._ctx.socket(zmq.REQ)
            self._hb.linger = 0
            self._hb.connect(f"{info['transport']}://{info['ip']}:{info['hb_port']}")
        payload = b"ping-%d" % time.monotonic_ns()
        started = time.perf_counter()
        self._hb.send(payload)
        if self._hb.poll(int(timeout * 1000)):
            echo = self._hb.recv()
            elapsed = time.perf_counter() - started
            assert echo == payload, f"heartbeat echoed {echo!r}, not {payload!r}"
            return elapsed
        # A REQ socket that lost its reply is stuck: start a fresh one next time.
        self._hb.close(linger=0)
        self._hb = None
        return None

    # ---- memory ----

    def rss_bytes(self) -> int:
        status = pathlib.Path(f"/proc/{self.pid}/status").read_text()
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                value, unit = line.split()[1:3]
                assert unit == "kB", line
                return int(value) * 1024
        raise AssertionError(f"no VmRSS in /proc/{self.pid}/status")
