"""Time the kernel on statements near and past the engine's limits, from a Jupyter client.

A measurement, not a test: it prints one row per cell (what it is, whether it ran or was
refused, and the seconds from execute_request to execute_reply, the best of --repeat runs)
and exits 0 whatever they are. Run it through dev/bench-limits, which builds the binary and
installs its kernelspec into a throwaway Jupyter path. The limits' doc comments
(engine/src/sql/limits/) quote these figures.

The cells, grouped by limit:
  nested subqueries  `1 IN (SELECT 1 WHERE 1 IN (…))`, n levels: planning time doubles per
                     level; past MAX_NESTED_SUBQUERIES (16) the cell is refused.
  chained operators  `1+1+…+1` with n terms (n - 1 operators), and an OR of n comparisons;
                     past MAX_CHAINED_OPERATORS (6,000) the cell is refused.
  dotted names       `a.b.….b[` with n parts and an unclosed subscript: a parse that fails,
                     with sqlparser retrying each `.`; up to 14 parts are read, more are
                     refused before parsing. Also the 468-byte cell the fuzzer found.
  IN list            `x IN (v1, …, vn)`.
There is no peer here: the figures show what a user waits for at each limit.
"""

from __future__ import annotations

import argparse
import pathlib
import queue
import sys
import time

from jupyter_client.manager import KernelManager

ROOT = pathlib.Path(__file__).resolve().parent.parent
SLOW_PARSE = ROOT / "tests/fuzz/seeds/sql_parse/slow_parse_nested_subscripts"


def nested_subqueries(depth: int) -> str:
    return (
        "SELECT 1 AS one WHERE 1 IN "
        + "(SELECT 1 WHERE 1 IN " * (depth - 1)
        + "(SELECT 1)"
        + ")" * (depth - 1)
    )


def cells() -> list[tuple[str, str]]:
    out = []
    for depth in (8, 10, 12, 14, 16, 17):
        out.append((f"nested subqueries, {depth} levels", nested_subqueries(depth)))
    for terms in (1_000, 3_000, 6_001, 6_002, 1_000_000):
        out.append((f"sum of {terms:,} terms", "SELECT " + "+".join(["1"] * terms) + " AS s"))
    or_chain = " OR ".join(f"column1 = {i}" for i in range(3_000))
    out.append(("OR of 3,000 comparisons", f"SELECT * FROM kept WHERE {or_chain}"))
    for parts in (10, 12, 14, 15, 22):
        out.append((f"dotted name, {parts} parts + `[`", "SELECT a" + ".b" * (parts - 1) + "["))
    out.append(("the fuzzer's 468-byte cell", SLOW_PARSE.read_text()))
    values = ", ".join(str(i * 7 + 3) for i in range(100_000))
    out.append(("IN list of 100,000 values", f"SELECT column1 FROM kept WHERE column1 IN ({values})"))
    return out


def run_cell(client, code: str, timeout: float) -> tuple[str, float]:
    started = time.perf_counter()
    msg_id = client.execute(code, store_history=False)
    while True:
        reply = client.get_shell_msg(timeout=timeout)
        if reply["parent_header"].get("msg_id") == msg_id:
            break
    seconds = time.perf_counter() - started
    # Drain IOPub up to this cell's idle, so the next cell starts clean.
    while True:
        try:
            msg = client.get_iopub_msg(timeout=timeout)
        except queue.Empty:
            break
        if (
            msg["parent_header"].get("msg_id") == msg_id
            and msg["header"]["msg_type"] == "status"
            and msg["content"]["execution_state"] == "idle"
        ):
            break
    content = reply["content"]
    if content["status"] == "ok":
        return "ran", seconds
    return content.get("ename", "error"), seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default="release", help="which build runs: debug or release (for the title)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per cell; the best is shown")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per cell")
    args = parser.parse_args()

    manager = KernelManager(kernel_name="eddy")
    manager.start_kernel()
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        run_cell(client, "CREATE TABLE kept AS VALUES (1), (2), (3)", args.timeout)
        print(f"eddy {args.build} build, best of {args.repeat}")
        print(f"{'cell':<36} {'outcome':<16} {'seconds':>8}")
        for name, code in cells():
            best = None
            outcome = ""
            for _ in range(args.repeat):
                outcome, seconds = run_cell(client, code, args.timeout)
                best = seconds if best is None else min(best, seconds)
            print(f"{name:<36} {outcome:<16} {best:>8.3f}", flush=True)
        alive = manager.is_alive()
        print(f"kernel alive at the end: {alive}")
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
