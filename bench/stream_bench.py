"""Eddy's streaming, end to end through the kernel: events per second and window-close delay.

A measurement, not a test: it prints figures against Eddy's targets and exits 0 whatever they
are. Run it through dev/bench-stream, which builds the release binary and installs its
kernelspec into a throwaway Jupyter path.

What is measured:
  throughput   a bounded datagen stream of --events rows (user_id INT 1..1000, url STRING of
               10 characters, ts TIMESTAMP(3) one millisecond apart), counted per user in
               10-second tumbling windows: from sending the cell until the kernel's `idle`
               for it (every window emitted and shown). Events/s = events / that time.
               Target: >= 1,000,000 events/s.
  close delay  an unbounded datagen stream at --rate rows/s with wall-clock event times, in
               1-second tumbling windows (watermark = the latest event time), shown with
               `--refresh 200ms`: for every window, the time from its end (wall clock) until
               the first update_display_data that shows it reaches the client. Target: at most
               the refresh interval + 100 ms.
  PyFlink      with --pyflink-python (a Python with apache-flink; dev/bench-stream uses
               .venv-flink if it exists), the throughput query runs through PyFlink in this run
               too (streaming mode, parallelism 2, Flink's datagen with wall-clock timestamps)
               and the ratio is printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import statistics
import time


REFRESH_MS = 200


class Kernel:
    def __init__(self) -> None:
        from jupyter_client.manager import KernelManager

        self.km = KernelManager(kernel_name="eddy")
        self.km.start_kernel()
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=30)

    def run(self, code: str, on_message=None, timeout: float = 600) -> float:
        """Runs a cell; returns the seconds until its idle. Fails on an error reply."""
        started = time.perf_counter()
        msg_id = self.kc.execute(code)
        while True:
            message = self.kc.get_iopub_msg(timeout=timeout)
            if message["parent_header"].get("msg_id") != msg_id:
                continue
            if on_message is not None:
                on_message(message)
            if message["msg_type"] == "error":
                raise RuntimeError("\n".join(message["content"]["traceback"]))
            if (
                message["msg_type"] == "status"
                and message["content"]["execution_state"] == "idle"
            ):
                return time.perf_counter() - started

    def stop(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def datagen_ddl(name: str, rows: int | None, rate: float, deterministic: bool) -> str:
    bounded = f"'number-of-rows' = '{rows}'," if rows else ""
    clock = (
        "'fields.ts.kind' = 'sequence', 'fields.ts.start' = '2024-01-01 00:00:00', "
        "'fields.ts.step' = '1 ms',"
        if deterministic
        else "'fields.ts.kind' = 'sequence',"
    )
    return f"""CREATE OR REPLACE TABLE {name} (
    user_id INT, url STRING, ts TIMESTAMP(3), WATERMARK FOR ts AS ts
) WITH (
    'connector' = 'datagen', 'seed' = '1', {bounded}
    'rows-per-second' = '{rate:.0f}',
    'fields.user_id.min' = '1', 'fields.user_id.max' = '1000', 'fields.url.length' = '10',
    {clock.rstrip(',')}
)"""


THROUGHPUT_QUERY = """SELECT window_start, user_id, COUNT(*) AS clicks
FROM TABLE(TUMBLE(TABLE {table}, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY window_start, window_end, user_id"""


def throughput(kernel: Kernel, events: int) -> tuple[float, str]:
    """Events per second, and the query's final status line (which counts the rows in)."""
    kernel.run(datagen_ddl("events", events, 1e9, deterministic=True))
    last = {}

    def on_message(message) -> None:
        if message["msg_type"] == "update_display_data":
            last["text"] = message["content"]["data"].get("text/plain", "")

    seconds = kernel.run(
        "%sql --refresh 500ms --max-rows 5\n" + THROUGHPUT_QUERY.format(table="events"),
        on_message=on_message,
    )
    status = last.get("text", "").splitlines()[0] if last.get("text") else "(no display)"
    if f"{events:,} rows in" not in status:
        raise RuntimeError(f"the query did not read every event: {status}")
    return events / seconds, status


def close_delays(kernel: Kernel, rate: float, seconds: int) -> list[float]:
    kernel.run(datagen_ddl("live_events", None, rate, deterministic=False))
    first_seen: dict[str, float] = {}

    def on_message(message) -> None:
        if message["msg_type"] != "update_display_data":
            return
        now = time.time()
        text = message["content"]["data"].get("text/plain", "")
        for end in re.findall(r"\| \S+ +\| (\d{4}-\d\d-\d\dT[\d:.]+) +\|", text):
            first_seen.setdefault(end, now)

    kernel.run(
        f"%sql --refresh {REFRESH_MS}ms --duration {seconds}s --max-rows 1000\n"
        "SELECT window_start, window_end, COUNT(*) AS clicks\n"
        "FROM TABLE(TUMBLE(TABLE live_events, DESCRIPTOR(ts), INTERVAL '1' SECOND))\n"
        "GROUP BY window_start, window_end",
        on_message=on_message,
    )
    delays = []
    for end, seen in first_seen.items():
        closed = dt.datetime.fromisoformat(end).replace(tzinfo=dt.timezone.utc).timestamp()
        delays.append((seen - closed) * 1000)
    return delays


PYFLINK_DDL = """CREATE TABLE events (
    user_id INT, url STRING, ts TIMESTAMP(3), WATERMARK FOR ts AS ts
) WITH (
    'connector' = 'datagen', 'number-of-rows' = '{events}', 'rows-per-second' = '1000000000',
    'fields.user_id.min' = '1', 'fields.user_id.max' = '1000', 'fields.url.length' = '10',
    'fields.ts.max-past' = '0'
)"""


def pyflink_only(events: int) -> None:
    """Runs the throughput query in PyFlink (streaming mode, parallelism 2) and prints
    events/s. Flink's datagen makes wall-clock timestamps (it has no timestamp sequence)."""
    from pyflink.table import EnvironmentSettings, TableEnvironment

    env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    env.get_config().set("parallelism.default", "2")
    env.execute_sql(PYFLINK_DDL.format(events=events))
    started = time.perf_counter()
    result = env.execute_sql(THROUGHPUT_QUERY.format(table="events"))
    with result.collect() as rows:
        for _ in rows:
            pass
    print(f"PYFLINK_EVENTS_PER_SECOND {events / (time.perf_counter() - started):.0f}")


def pyflink_throughput(python: str | None, events: int) -> float | None:
    """The PyFlink figure, from `python` (an interpreter with apache-flink installed; PyFlink
    pins its own pandas and pyarrow, so it usually lives in a venv of its own)."""
    if not python:
        return None
    from pyflink_runner import pyflink_output

    args = ["--events", str(events)]
    return float(pyflink_output(python, __file__, args, "PYFLINK_EVENTS_PER_SECOND"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000_000)
    parser.add_argument("--rate", type=float, default=200_000)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument(
        "--pyflink-python",
        default=os.environ.get("EDDY_PYFLINK_PYTHON"),
        help="a Python with apache-flink installed: runs the throughput query through PyFlink",
    )
    parser.add_argument("--pyflink-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pyflink_only:
        pyflink_only(args.events)
        return

    kernel = Kernel()
    try:
        kernel.run("SELECT 1")  # warm
        rate, status = throughput(kernel, args.events)
        delays = close_delays(kernel, args.rate, args.seconds)
    finally:
        kernel.stop()
    flink = pyflink_throughput(args.pyflink_python, args.events)

    target_delay = REFRESH_MS + 100
    print(f"\n{'measure':<34} {'eddy':>14} {'target':>14}")
    print(
        f"{'throughput (events/s)':<34} {rate:>14,.0f} {'>= 1,000,000':>14}  "
        f"{'PASS' if rate >= 1_000_000 else 'MISS'}"
    )
    print(f"  (kernel's status line: {status})")
    if delays:
        median, worst = statistics.median(delays), max(delays)
        print(
            f"{'window close -> display, median':<34} {median:>11.0f} ms {'<= ' + str(target_delay) + ' ms':>14}  "
            f"{'PASS' if median <= target_delay else 'MISS'}"
        )
        print(
            f"{'window close -> display, worst':<34} {worst:>11.0f} ms {'<= ' + str(target_delay) + ' ms':>14}  "
            f"{'PASS' if worst <= target_delay else 'MISS'}"
        )
        print(f"  ({len(delays)} windows, {args.rate:,.0f} events/s, refresh {REFRESH_MS} ms)")
    else:
        print("window close -> display: no window was shown (MISS)")
    if flink is None:
        print("PyFlink: not measured (give --pyflink-python, a Python with apache-flink) — no ratio")
    else:
        print(f"{'PyFlink throughput (events/s)':<34} {flink:>14,.0f}   eddy/pyflink = {rate / flink:.2f}x")


if __name__ == "__main__":
    main()
