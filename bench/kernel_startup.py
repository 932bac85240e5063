"""Eddy against ipykernel, in one run: start-up time, execute round trip and resident memory.

A measurement, not a test: it prints a table with the ratios eddy/ipykernel and Eddy's targets,
and exits 0 whatever they are. Run it through dev/bench-kernel, which builds the release binary
and installs its kernelspec into a throwaway Jupyter path.

What is measured, for each kernel:
  start-up     from KernelManager.start_kernel() (the process is spawned there) until the first
               kernel_info_reply arrives; median of --starts fresh kernels.
  round trip   from sending execute_request for a trivial cell (`SELECT 1` / `1`) until the
               kernel's `idle` status for that request arrives on IOPub, i.e. until every
               output of the cell is in (the execute_reply comes before that idle); median
               and p99 of --runs requests on one kernel.
  after idle   the same round trip, each after --idle-ms of quiet (a user reads a result
               before running the next cell: a kernel that has gone to sleep meanwhile pays
               for waking up); median of --idle-runs requests.
  memory       VmRSS of the kernel process (/proc/PID/status) right after its kernel_info
               reply; median over the start-ups. Also shown, without a target: VmRSS after
               the round trips.
The kernels are measured in turn (eddy, ipykernel, eddy, ...) so that drift on a busy machine
hits both alike.
"""

from __future__ import annotations

import argparse
import queue
import statistics
import subprocess
import sys
import time

import zmq
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from jupyter_client.manager import KernelManager

# Eddy's targets, as ratios eddy/ipykernel (smaller is better).
TARGETS = {"start-up": 0.35, "round trip median": 0.35, "memory after start": 0.6}

# zmq retries a refused connect every 100 ms by default, which would round every start-up up
# to the next 100 ms (the client connects before the kernel has bound its ports). Retry
# every 2 ms instead, for every socket of the measuring client.
CONTEXT = zmq.Context()
CONTEXT.setsockopt(zmq.RECONNECT_IVL, 2)


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


class Kernel:
    """One running kernel and its blocking client."""

    def __init__(self, name: str, quiet: bool = False) -> None:
        self.km = KernelManager(kernel_name=name)
        # ipykernel warns on stderr at every start about unencrypted TCP: noise here.
        output = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL} if quiet else {}
        started = time.perf_counter()
        self.km.start_kernel(**output)
        self.kc = self.km.client(context=CONTEXT)
        self.kc.start_channels()
        self.startup = self._first_kernel_info_reply(started)
        self.pid = self.km.provisioner.pid
        self.rss_after_start = rss_bytes(self.pid)
        # Make sure IOPub is subscribed (and drained) before any round trip is timed.
        self.kc.wait_for_ready(timeout=60)

    def _first_kernel_info_reply(self, started: float) -> float:
        self.kc.kernel_info()
        last_sent = time.perf_counter()
        while True:
            try:
                msg = self.kc.get_shell_msg(timeout=0.01)
            except queue.Empty:
                if not self.km.is_alive():
                    raise RuntimeError(f"kernel {self.km.kernel_name!r} died during start-up") from None
                now = time.perf_counter()
                if now - started > 60:
                    raise RuntimeError(f"kernel {self.km.kernel_name!r} sent no kernel_info_reply in 60 s") from None
                if now - last_sent > 1.0:  # a request lost during start-up: ask again
                    self.kc.kernel_info()
                    last_sent = now
                continue
            if msg["msg_type"] == "kernel_info_reply":
                return time.perf_counter() - started

    def round_trip(self, code: str) -> float:
        sent = time.perf_counter()
        msg_id = self.kc.execute(code)
        while True:
            msg = self.kc.get_iopub_msg(timeout=30)
            if (
                msg["parent_header"].get("msg_id") == msg_id
                and msg["msg_type"] == "status"
                and msg["content"]["execution_state"] == "idle"
            ):
                elapsed = time.perf_counter() - sent
                break
        reply = self.kc.get_shell_msg(timeout=30)
        if reply["parent_header"].get("msg_id") != msg_id or reply["content"]["status"] != "ok":
            raise RuntimeError(f"unexpected reply to {code!r}: {reply['content']}")
        return elapsed

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[98]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--eddy-kernel", default="eddy", help="kernelspec name of Eddy (default: eddy)")
    parser.add_argument("--python-kernel", default="python3", help="kernelspec name of ipykernel (default: python3)")
    parser.add_argument("--eddy-code", default="SELECT 1", help="Eddy's trivial cell (default: SELECT 1)")
    parser.add_argument("--starts", type=int, default=10, help="kernel start-ups per kernel (default: 10)")
    parser.add_argument("--runs", type=int, default=200, help="timed round trips per kernel (default: 200)")
    parser.add_argument("--idle-runs", type=int, default=30, help="round trips after quiet (default: 30)")
    parser.add_argument("--idle-ms", type=int, default=500, help="quiet before each of them (default: 500)")
    args = parser.parse_args()

    kernels = {"eddy": (args.eddy_kernel, args.eddy_code), "ipykernel": (args.python_kernel, "1")}
    ksm = KernelSpecManager()
    for label, (name, code) in kernels.items():
        try:
            spec = ksm.get_kernel_spec(name)
        except NoSuchKernel:
            print(f"no kernelspec {name!r} for {label}: run this through dev/bench-kernel", file=sys.stderr)
            return 2
        print(f"{label:10} kernelspec {name!r}: {' '.join(spec.argv)}   cell: {code!r}")

    startup: dict[str, list[float]] = {label: [] for label in kernels}
    rss_start: dict[str, list[float]] = {label: [] for label in kernels}
    # One discarded start each first: the first start pays for a cold page cache.
    for round_no in range(args.starts + 1):
        for label, (name, _) in kernels.items():
            kernel = Kernel(name, quiet=label == "ipykernel")
            kernel.close()
            if round_no:
                startup[label].append(kernel.startup)
                rss_start[label].append(kernel.rss_after_start)
        print(f"\rstart-ups: {round_no}/{args.starts}", end="", flush=True)
    print()

    running = {label: Kernel(name, quiet=label == "ipykernel") for label, (name, _) in kernels.items()}
    trips: dict[str, list[float]] = {label: [] for label in kernels}
    try:
        for label, kernel in running.items():  # warm-up, untimed
            for _ in range(20):
                kernel.round_trip(kernels[label][1])
        batch = 20
        for done in range(0, args.runs, batch):
            for label, kernel in running.items():
                for _ in range(min(batch, args.runs - done)):
                    trips[label].append(kernel.round_trip(kernels[label][1]))
            print(f"\rround trips: {len(trips['eddy'])}/{args.runs}", end="", flush=True)
        print()
        idle: dict[str, list[float]] = {label: [] for label in kernels}
        for done in range(args.idle_runs):
            for label, kernel in running.items():
                time.sleep(args.idle_ms / 1000)
                idle[label].append(kernel.round_trip(kernels[label][1]))
            print(f"\rround trips after idle: {done + 1}/{args.idle_runs}", end="", flush=True)
        print()
        rss_end = {label: rss_bytes(kernel.pid) for label, kernel in running.items()}
    finally:
        for kernel in running.values():
            kernel.close()

    rows = [
        ("start-up", statistics.median(startup["eddy"]), statistics.median(startup["ipykernel"]), "s"),
        ("round trip median", statistics.median(trips["eddy"]), statistics.median(trips["ipykernel"]), "ms"),
        ("round trip p99", p99(trips["eddy"]), p99(trips["ipykernel"]), "ms"),
        (f"after {args.idle_ms} ms idle", statistics.median(idle["eddy"]), statistics.median(idle["ipykernel"]), "ms"),
        ("memory after start", statistics.median(rss_start["eddy"]), statistics.median(rss_start["ipykernel"]), "MB"),
        ("memory after trips", rss_end["eddy"], rss_end["ipykernel"], "MB"),
    ]
    scale = {"s": (1, "{:.3f} s"), "ms": (1e3, "{:.2f} ms"), "MB": (1 / 2**20, "{:.1f} MB")}

    print()
    print(f"{'':20} {'eddy':>11} {'ipykernel':>11} {'ratio':>7}  {'target':>7}  result")
    for what, eddy, ipy, unit in rows:
        factor, fmt = scale[unit]
        ratio = eddy / ipy
        target = TARGETS.get(what)
        verdict = "" if target is None else ("PASS" if ratio <= target else "MISS")
        target_s = "" if target is None else f"≤{target:.2f}"
        print(
            f"{what:20} {fmt.format(eddy * factor):>11} {fmt.format(ipy * factor):>11} "
            f"{ratio:>6.2f}×  {target_s:>7}  {verdict}"
        )
    print(
        f"\nstart-up and memory: median of {args.starts} start-ups; round trip: {args.runs} requests, "
        "execute_request sent → IOPub idle for it; after idle: median of "
        f"{args.idle_runs}, each after {args.idle_ms} ms of quiet."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
