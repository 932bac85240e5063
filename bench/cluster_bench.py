"""The price of distribution on one box: the MUBI demo's questions from CSV on Eddy's embedded
engine and on a local Ballista cluster (`eddy cluster scheduler` and executors of the same
binary, on 127.0.0.1), timed from a Jupyter client in one kernel session, with the ratio; then
one streaming query, an updating GROUP BY over a bounded generated stream, on Eddy and on a
local Flink cluster through its SQL Gateway (`dev/flink/cluster`), in events per second.

Both read the files every time: the kernel keeps no decoded columns (`%config
keep_file_columns=off`), since the cluster keeps none. Each answer on the cluster is checked
against the embedded engine's. Run by `dev/bench-cluster`; a measurement, not a test.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from mubi_bench import Eddy, TABLE_FILES, QUERIES, DEFAULT_MIN_RATINGS, eddy_table_ddl  # noqa: E402

RAN_ON = "ran on the Ballista cluster at"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, what: str, limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not listen on {port} in {limit:.0f} s") from None
            time.sleep(0.05)


class Cluster:
    """A scheduler and executors of `binary` on 127.0.0.1, stopped by close()."""

    def __init__(self, binary: str, executors: int, tasks: int, logs: pathlib.Path) -> None:
        self.port = free_port()
        self.processes = []
        self.processes.append(self.spawn(binary, logs / "scheduler.log", "scheduler", "--bind-port", str(self.port)))
        wait_listening(self.port, "the scheduler")
        for number in range(executors):
            flight, grpc = free_port(), free_port()
            work = logs / f"executor-{number}"
            work.mkdir()
            self.processes.append(
                self.spawn(
                    binary,
                    logs / f"executor-{number}.log",
                    "executor",
                    "--scheduler-port", str(self.port),
                    "--bind-port", str(flight),
                    "--bind-grpc-port", str(grpc),
                    "--concurrent-tasks", str(tasks),
                    "--work-dir", str(work),
                )
            )
            wait_listening(flight, f"executor {number}")
        self.url = f"df://127.0.0.1:{self.port}"

    @staticmethod
    def spawn(binary: str, log: pathlib.Path, *args: str) -> subprocess.Popen:
        with open(log, "wb") as out:
            return subprocess.Popen([binary, "cluster", *args], stdout=subprocess.DEVNULL, stderr=out)

    def close(self) -> None:
        for process in self.processes:
            process.kill()
            process.wait()


class Flink:
    """A Flink cluster and SQL Gateway run by dev/flink/cluster on free ports, stopped by
    close() (the script stops Flink when its standard input closes)."""

    def __init__(self, logs: pathlib.Path) -> None:
        root = pathlib.Path(__file__).resolve().parent.parent
        self.gateway = free_port()
        self.log = open(logs / "flink-cluster.log", "wb")
        self.process = subprocess.Popen(
            [
                str(root / "dev/flink/cluster"),
                "--rest-port", str(free_port()),
                "--gateway-port", str(self.gateway),
                "--rpc-port", str(free_port()),
                "--dir", str(logs / "flink"),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
        )
        # The script prints the gateway's URL once the TaskManager has joined.
        line = self.process.stdout.readline().decode().strip()
        if not line.startswith("http://"):
            raise RuntimeError(f"dev/flink/cluster did not start; see {logs / 'flink-cluster.log'}")
        self.url = f"flink://127.0.0.1:{self.gateway}"

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=60)
        self.log.close()


def stream_ddl(events: int) -> str:
    """A bounded stream of generated events over 1,000 keys, as fast as they can be made;
    the same DDL on Eddy and on Flink."""
    return (
        "CREATE TABLE events (k INT, v BIGINT) WITH ('connector' = 'datagen', "
        f"'number-of-rows' = '{events}', 'rows-per-second' = '1000000000', "
        "'fields.k.min' = '1', 'fields.k.max' = '1000', 'fields.v.min' = '0', 'fields.v.max' = '1000')"
    )


FLINK_SETTINGS = {
    "table.exec.mini-batch.enabled": "true",
    "table.exec.mini-batch.allow-latency": "2 s",
    "table.exec.mini-batch.size": "50000",
}

STREAM_QUERY = "%sql --max-rows 1000\nSELECT k, COUNT(*) AS n, SUM(v) AS total FROM events GROUP BY k"


def counted(text: str | None) -> int:
    """The sum of the `n` column of a live display's final table: every event counted once."""
    total = 0
    for line in (text or "").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 3 and cells[1].isdigit():
            total += int(cells[1])
    return total


def stream_line(eddy: Eddy, engine: str, events: int) -> tuple[float, bool]:
    """Runs the streaming query over `events` events; (seconds, every event counted)."""
    eddy.execute("DROP TABLE IF EXISTS events")
    eddy.execute(stream_ddl(events))
    seconds, text = eddy.execute(STREAM_QUERY)
    finished = (text or "").startswith("finished after")
    return seconds, finished and counted(text) == events


def rows_of(text: str | None) -> str:
    """A result's table, without the line that says where it ran."""
    return (text or "").split(RAN_ON)[0].rstrip()


def timed(eddy: Eddy, sql: str, repeat: int) -> tuple[float, str]:
    runs, text = [], None
    for _ in range(repeat):
        seconds, text = eddy.execute(sql)
        runs.append(seconds)
    return statistics.median(runs), text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, type=pathlib.Path, help="folder of the three MUBI CSV files")
    parser.add_argument("--eddy-bin", required=True, help="the eddy binary the cluster runs")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each question per engine (default: 3)")
    parser.add_argument("--executors", type=int, default=2, help="executors of the cluster (default: 2)")
    parser.add_argument(
        "--tasks",
        type=int,
        default=max(1, (os.cpu_count() or 2) // 2),
        help="tasks each executor runs at once (default: half the cores, so that two executors use them all)",
    )
    parser.add_argument("--min-ratings", type=int, default=DEFAULT_MIN_RATINGS, help="Q4's HAVING bound (default: 50)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds a cell may take (default: 1800)")
    parser.add_argument("--kernel", default="eddy", help="kernelspec name of Eddy (default: eddy)")
    parser.add_argument("--events", type=int, default=5_000_000, help="events of the streaming query (default: 5,000,000)")
    parser.add_argument("--no-flink", action="store_true", help="leave out the streaming query on Flink")
    parser.add_argument("--flink-only", action="store_true", help="only the streaming query on Eddy and Flink")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="eddy-cluster-bench.") as logs_dir:
        logs = pathlib.Path(logs_dir)
        if args.flink_only:
            return 1 if stream_on_flink(args, logs) else 0
        cluster = Cluster(args.eddy_bin, args.executors, args.tasks, logs)
        eddy = Eddy(args.kernel, args.timeout)
        failed = False
        try:
            eddy.execute("%config keep_file_columns=off")
            for table, file in TABLE_FILES.items():
                eddy.execute(eddy_table_ddl(table, str(args.data / file)))
            embedded = {}
            for name, query in QUERIES.items():
                embedded[name] = timed(eddy, query.sql("eddy", args.min_ratings), args.repeat)
            eddy.execute(f"%connect {cluster.url}")
            print(
                f"MUBI questions from CSV ({args.data}), medians of {args.repeat}: the embedded engine, "
                f"and a Ballista cluster of {args.executors} executors × {args.tasks} tasks on this machine "
                f"({os.cpu_count()} cores)\n"
            )
            print(f"{'question':<30} {'embedded s':>11} {'cluster s':>10} {'cluster/embedded':>17}")
            totals = [0.0, 0.0]
            for name, query in QUERIES.items():
                seconds, text = timed(eddy, query.sql("eddy", args.min_ratings), args.repeat)
                here, here_text = embedded[name]
                same = rows_of(text) == rows_of(here_text) and RAN_ON in (text or "")
                failed |= not same
                totals[0] += here
                totals[1] += seconds
                mark = "" if same else "  ANSWERS DIFFER"
                print(f"{name:<30} {here:>11.3f} {seconds:>10.3f} {seconds / here:>16.2f}x{mark}")
            print(f"{'five questions':<30} {totals[0]:>11.3f} {totals[1]:>10.3f} {totals[1] / totals[0]:>16.2f}x")
        finally:
            eddy.close()
            cluster.close()
        if failed:
            print("the cluster's answers differ from the embedded engine's", file=sys.stderr)
            return 1
        if not args.no_flink:
            failed = stream_on_flink(args, logs)
    return 1 if failed else 0


def stream_on_flink(args, logs: pathlib.Path) -> bool:
    """The streaming query on Eddy and on Flink; True when an answer is wrong."""
    flink = Flink(logs)
    eddy = Eddy(args.kernel, args.timeout)
    try:
        # A query of one event: what starting a query costs (on Flink, a job).
        here_start, _ = stream_line(eddy, "eddy", 1)
        here, here_ok = stream_line(eddy, "eddy", args.events)
        eddy.execute(f"%connect {flink.url}")
        # As the Nexmark benchmark runs Flink: an updating aggregate emits once per mini-batch
        # and key, not once per event.
        for key, value in FLINK_SETTINGS.items():
            eddy.execute(f"SET '{key}' = '{value}'")
        flink_start, _ = stream_line(eddy, "flink", 1)
        there, there_ok = stream_line(eddy, "flink", args.events)
    finally:
        eddy.close()
        flink.close()
    print(
        f"\nStreaming: SELECT k, COUNT(*), SUM(v) FROM events GROUP BY k over {args.events:,} generated "
        f"events (1,000 keys), from a Jupyter client, until the final result; Flink 2.3 with "
        f"parallelism 1 and mini-batches as the Nexmark benchmark sets them, through its SQL Gateway on "
        f"this machine\n"
    )
    print(f"{'engine':<8} {'1 event s':>10} {'all s':>8} {'events/s':>12} {'counted':>8}")
    for name, start, total, ok in (("eddy", here_start, here, here_ok), ("flink", flink_start, there, there_ok)):
        print(f"{name:<8} {start:>10.2f} {total:>8.2f} {args.events / total:>12,.0f} {'yes' if ok else 'NO':>8}")
    print(f"Flink/Eddy time: {there / here:.2f}x (the 1-event column is the price of starting a query)")
    return not (here_ok and there_ok)


if __name__ == "__main__":
    sys.exit(main())
