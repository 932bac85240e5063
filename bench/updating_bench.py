"""An updating GROUP BY over a stream, end to end through the kernel: events per second by key count.

A measurement, not a test: it prints figures and exits 0 whatever they are. Run it through
dev/bench-updating, which builds the release binary and installs its kernelspec into a
throwaway Jupyter path.

What is measured, for each key count (default 1,000, 10,000, 100,000 and 1,000,000 keys):
  eddy      a bounded datagen stream of --events rows (k INT uniform over the keys, v INT),
            `INSERT INTO sums SELECT k, COUNT(*), SUM(v) FROM events GROUP BY k` into a
            blackhole, from sending the cell until its reply (every change written). Events/s
            = events / that time; the kernel's peak memory beside it; and, from the query's
            last status line, its micro-batches (those that took rows): how many, their mean
            time and the slowest. The work of a micro-batch should follow the keys it touched,
            not the keys kept: the rate should fall little, and a micro-batch's time grow
            little, from 1,000 to 1,000,000 keys.
  PyFlink   with --pyflink-python (a Python with apache-flink; dev/bench-updating uses
            .venv-flink if it exists), the same query in the same run (streaming mode,
            parallelism 2, Flink's datagen and blackhole), and the ratio.
"""

from __future__ import annotations

import argparse
import os
import re
import time


def eddy_ddl(events: int, keys: int) -> str:
    return f"""CREATE OR REPLACE TABLE events (k INT, v INT) WITH (
    'connector' = 'datagen', 'seed' = '1', 'number-of-rows' = '{events}',
    'rows-per-second' = '1000000000',
    'fields.k.min' = '1', 'fields.k.max' = '{keys}', 'fields.v.min' = '0', 'fields.v.max' = '100'
)"""


SINK = "CREATE OR REPLACE TABLE sums (k INT, n BIGINT, total BIGINT) WITH ('connector' = 'blackhole')"
QUERY = "INSERT INTO sums SELECT k, COUNT(*) AS n, SUM(v) AS total FROM events GROUP BY k"


MICRO_BATCHES = re.compile(r"([\d,]+) micro-batches, ([\d.]+) ms each, slowest ([\d.]+) ms")


def micro_batches(text: str) -> str:
    """The micro-batches the query's status line counts: how many, mean and slowest time."""
    found = MICRO_BATCHES.search(text)
    if not found:
        return f"{'—':>8} {'—':>9} {'—':>9}"
    count, mean, slowest = found.groups()
    return f"{count:>8} {float(mean):>6.1f} ms {float(slowest):>6.0f} ms"


def eddy_rate(events: int, keys: int, timeout: float) -> tuple[float, int, str]:
    """Events per second, peak memory in bytes, and the cell's last text."""
    # Imported here: PyFlink's Python, which runs this file too, has no Jupyter client.
    from nexmark_bench import Kernel

    kernel = Kernel()
    try:
        kernel.run(eddy_ddl(events, keys), timeout)
        kernel.run(SINK, timeout)
        seconds, text = kernel.run(QUERY, timeout)
        return events / seconds, kernel.peak_memory(), text
    finally:
        kernel.stop()


PYFLINK_DDL = """CREATE TABLE events (k INT, v INT) WITH (
    'connector' = 'datagen', 'number-of-rows' = '{events}', 'rows-per-second' = '1000000000',
    'fields.k.min' = '1', 'fields.k.max' = '{keys}', 'fields.v.min' = '0', 'fields.v.max' = '100'
)"""


def pyflink_only(events: int, keys: int) -> None:
    """Runs the query in PyFlink (streaming mode, parallelism 2) and prints events/s."""
    from pyflink.table import EnvironmentSettings, TableEnvironment

    env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    env.get_config().set("parallelism.default", "2")
    env.execute_sql(PYFLINK_DDL.format(events=events, keys=keys))
    env.execute_sql(SINK.replace("CREATE OR REPLACE TABLE", "CREATE TABLE"))
    started = time.perf_counter()
    env.execute_sql(QUERY).wait()
    print(f"PYFLINK_EVENTS_PER_SECOND {events / (time.perf_counter() - started):.0f}")


def pyflink_rate(python: str | None, events: int, keys: int) -> float | None:
    """The PyFlink figure, from `python` (an interpreter with apache-flink installed)."""
    if not python:
        return None
    from pyflink_runner import pyflink_output

    args = ["--events", str(events), "--keys", str(keys)]
    return float(pyflink_output(python, __file__, args, "PYFLINK_EVENTS_PER_SECOND"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3_000_000)
    parser.add_argument(
        "--keys", type=int, nargs="*", default=[1_000, 10_000, 100_000, 1_000_000]
    )
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument(
        "--pyflink-python",
        default=os.environ.get("EDDY_PYFLINK_PYTHON"),
        help="a Python with apache-flink installed: runs the query through PyFlink too",
    )
    parser.add_argument("--pyflink-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pyflink_only:
        pyflink_only(args.events, args.keys[0])
        return

    print(f"{args.events:,} events, GROUP BY k into a blackhole")
    print(
        f"{'keys':>10} {'eddy events/s':>15} {'batches':>8} {'mean':>9} {'slowest':>9} "
        f"{'peak memory':>12} {'pyflink events/s':>17} {'eddy/pyflink':>13}"
    )
    for keys in args.keys:
        rate, memory, text = eddy_rate(args.events, keys, args.timeout)
        flink = pyflink_rate(args.pyflink_python, args.events, keys)
        flink_text = f"{flink:>17,.0f} {rate / flink:>12.2f}x" if flink else f"{'—':>17} {'—':>13}"
        print(
            f"{keys:>10,} {rate:>15,.0f} {micro_batches(text)} {memory / 2**20:>8,.0f} MiB "
            f"{flink_text}",
            flush=True,
        )
        last = text.splitlines()[-1] if text else ""
        print(f"{'':>10} ({last})")
    if not args.pyflink_python:
        print("PyFlink: not measured (give --pyflink-python, a Python with apache-flink) — no ratio")


if __name__ == "__main__":
    main()
