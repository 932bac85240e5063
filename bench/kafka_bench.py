"""Eddy's Kafka source against the client library alone: records per second from a pre-filled
topic into a windowed aggregation, beside librdkafka draining the same topic, in one run.

A measurement, not a test: it prints figures and exits 0 whatever they are. Run it through
dev/bench-kafka, which builds the release binaries, starts a broker (dev/kafka/broker) and
installs the release kernelspec into a throwaway Jupyter path.

What is measured:
  fill      Eddy writing --records generated clicks (user_id INT, url STRING of 20 letters,
            ts TIMESTAMP(3)) as json records into a one-partition topic:
            `INSERT INTO clicks_topic SELECT * FROM clicks` (datagen), from sending the cell
            until its reply (every record acknowledged by the broker). Records/s.
  limit     tools/kafka-drain: librdkafka alone reads the topic from its start to its end,
            touching each value and decoding nothing. Records/s.
  eddy      `INSERT INTO per_second SELECT window_start, window_end, COUNT(*), COUNT(DISTINCT
            user_id) FROM TABLE(TUMBLE(TABLE clicks_read, DESCRIPTOR(ts), INTERVAL '1'
            SECOND)) GROUP BY window_start, window_end` into a blackhole, the topic read with
            `'scan.bounded.mode' = 'latest-offset'`: decoding the json, the watermark, the
            windows, from sending the cell until its reply. Records/s, and its ratio to the
            limit (target: at least 0.8).
Each of limit and eddy is run --runs times, in turn; the best of each is compared.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys

from nexmark_bench import Kernel


def fill(kernel: Kernel, bootstrap: str, records: int, timeout: float) -> float:
    kernel.run(
        f"""CREATE TABLE clicks (user_id INT, url STRING, ts TIMESTAMP(3)) WITH (
            'connector' = 'datagen', 'seed' = '3', 'number-of-rows' = '{records}',
            'rows-per-second' = '1000000000',
            'fields.user_id.min' = '1', 'fields.user_id.max' = '100000',
            'fields.url.length' = '20',
            'fields.ts.kind' = 'sequence', 'fields.ts.start' = '2024-01-01 00:00:00',
            'fields.ts.step' = '1 ms')""",
        timeout,
    )
    kernel.run(
        f"""CREATE TABLE clicks_topic (user_id INT, url STRING, ts TIMESTAMP(3)) WITH (
            'connector' = 'kafka', 'topic' = 'clicks',
            'properties.bootstrap.servers' = '{bootstrap}',
            'scan.startup.mode' = 'earliest-offset', 'format' = 'json')""",
        timeout,
    )
    seconds, _ = kernel.run("INSERT INTO clicks_topic SELECT * FROM clicks", timeout)
    return records / seconds


def limit(drain: str, bootstrap: str) -> tuple[int, float]:
    out = subprocess.run(
        [drain, bootstrap, "clicks"], capture_output=True, text=True, check=True
    ).stdout
    found = re.search(r"records=(\d+) bytes=(\d+) seconds=([\d.]+)", out)
    if not found:
        raise RuntimeError(f"kafka-drain said: {out}")
    records, _, seconds = found.groups()
    return int(records), int(records) / float(seconds)


def eddy(kernel: Kernel, bootstrap: str, records: int, run: int, timeout: float) -> float:
    kernel.run(
        f"""CREATE OR REPLACE TABLE clicks_read (
            user_id INT, url STRING, ts TIMESTAMP(3),
            WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
        ) WITH (
            'connector' = 'kafka', 'topic' = 'clicks',
            'properties.bootstrap.servers' = '{bootstrap}',
            'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset',
            'format' = 'json')""",
        timeout,
    )
    kernel.run(
        "CREATE OR REPLACE TABLE per_second (window_start TIMESTAMP(3), "
        "window_end TIMESTAMP(3), clicks BIGINT, users BIGINT) WITH ('connector' = 'blackhole')",
        timeout,
    )
    seconds, text = kernel.run(
        """INSERT INTO per_second
           SELECT window_start, window_end, COUNT(*), COUNT(DISTINCT user_id)
           FROM TABLE(TUMBLE(TABLE clicks_read, DESCRIPTOR(ts), INTERVAL '1' SECOND))
           GROUP BY window_start, window_end""",
        timeout,
    )
    read = re.search(r"([\d,]+) rows in", text)
    if not read or int(read.group(1).replace(",", "")) != records:
        raise RuntimeError(f"the query did not read every record: {text[:300]}")
    return records / seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bootstrap", required=True, help="the broker, host:port")
    parser.add_argument("--drain", required=True, help="the kafka-drain binary")
    parser.add_argument("--records", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()

    kernel = Kernel()
    try:
        filled = fill(kernel, args.bootstrap, args.records, args.timeout)
        print(f"fill: {args.records:,} json records written by Eddy at {filled / 1e6:.2f} M records/s")
        limits, rates = [], []
        for run in range(args.runs):
            read, rate = limit(args.drain, args.bootstrap)
            if read != args.records:
                raise RuntimeError(f"kafka-drain read {read} records, not {args.records}")
            limits.append(rate)
            rates.append(eddy(kernel, args.bootstrap, args.records, run, args.timeout))
            print(
                f"run {run + 1}: limit (librdkafka alone) {limits[-1] / 1e6:.2f} M/s, "
                f"Eddy into a windowed aggregation {rates[-1] / 1e6:.2f} M/s"
            )
        best_limit, best = max(limits), max(rates)
        print()
        print(f"| records | limit, librdkafka alone | Eddy, json into TUMBLE windows | ratio |")
        print(f"|---:|---:|---:|---:|")
        print(
            f"| {args.records:,} | {best_limit / 1e6:.2f} M/s | {best / 1e6:.2f} M/s | "
            f"{best / best_limit:.2f} |"
        )
        print(f"(best of {args.runs}; target: a ratio of at least 0.8)")
    finally:
        kernel.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
