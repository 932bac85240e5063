"""Soak test: one kernel under a steady mix of work for a fixed time stays responsive and flat in
memory (issue 13).

A background query over an unbounded datagen stream (a one-second tumbling window, event times
from the clock) runs the whole time and keeps updating its display. Meanwhile the test keeps
sending: ordinary cells (batch SQL over a 200,000-row table, DDL that creates and drops tables,
`%jobs`), complete and inspect requests at random cursor positions, and cells that are
interrupted half a second after they start (a streaming query with `--duration 60s`, or a long
batch join), through an interrupt_request on the control channel. Every SAMPLE_EVERY seconds a
sampler thread reads the kernel process's resident memory (/proc/PID/status VmRSS) and times a
heartbeat round trip on a socket of its own.

Asserted: every request is answered (no hangs); ordinary cells succeed; an interrupted cell's
reply is an error named "Interrupted" (what the kernel sends for an interrupted cell), with
exactly one iopub error; the background query is still updating in the last quarter of the
run; heartbeat p99 below HEARTBEAT_P99; memory flat: the median RSS of the last quarter of the
samples at most MEMORY_GROWTH × the median of the second quarter (after warm-up) +
MEMORY_SLACK. At the end `%cancel all` stops the background query and the kernel is alive and
answers kernel_info and a heartbeat.

Length: EDDY_SOAK_SECONDS (default 120); the choice of actions is seeded (EDDY_SOAK_SEED,
default fixed). Run with `-s` to see the sample table; it is printed in any case on failure.
"""

from __future__ import annotations

import collections
import math
import os
import random
import statistics
import threading
import time

from kernel_driver import CellRun, KernelDriver

SECONDS = float(os.environ.get("EDDY_SOAK_SECONDS", "120"))
SEED = int(os.environ.get("EDDY_SOAK_SEED", "2024"))
SAMPLE_EVERY = 2.0
CELL_TIMEOUT = 120.0  # a debug build on a loaded 2-core machine
INTERRUPT_AFTER = 0.5
HEARTBEAT_P99 = 0.5
MEMORY_GROWTH = 1.25
MEMORY_SLACK = 20 * 2**20

SETUP = [
    # Clock-driven event times (no fields.ts.start): windows close as time passes, so the
    # background query's state stays small however long it runs.
    """CREATE TABLE ticks (
  user_id INT,
  url STRING,
  ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH (
  'connector' = 'datagen',
  'rows-per-second' = '2000',
  'fields.user_id.min' = '1',
  'fields.user_id.max' = '50',
  'fields.url.length' = '8'
)""",
    "CREATE TABLE big AS SELECT value AS i, value % 97 AS k, CAST(value AS STRING) AS s, "
    "CAST(value AS DOUBLE) / 7 AS x FROM generate_series(1, 200000)",
    "CREATE TABLE small AS SELECT * FROM (VALUES (1, 'a'), (2, 'b'), (3, 'c')) AS t(k, name)",
]

BACKGROUND = """%sql --background --refresh 1s
SELECT window_start, COUNT(*) AS clicks, COUNT(DISTINCT user_id) AS users
FROM TABLE(TUMBLE(TABLE ticks, DESCRIPTOR(ts), INTERVAL '1' SECOND))
GROUP BY window_start, window_end"""

BATCH_CELLS = [
    "SELECT COUNT(*), SUM(x), MIN(s), MAX(s) FROM big",
    "SELECT k, COUNT(*) AS n, AVG(x) AS mean FROM big GROUP BY k ORDER BY n DESC, k LIMIT 5",
    "SELECT b.k, s.name, COUNT(*) FROM big AS b JOIN small AS s ON b.k = s.k GROUP BY b.k, s.name ORDER BY 1",
    "SELECT * FROM big WHERE s LIKE '1234%' ORDER BY i LIMIT 10",
    "SELECT i, x, ROW_NUMBER() OVER (PARTITION BY k ORDER BY i DESC) AS rn FROM big WHERE i < 2000 ORDER BY i LIMIT 20",
    "SELECT COUNT(DISTINCT s) FROM big",
    "SELECT 1 + 1 AS two",
    "SHOW TABLES",
    "DESCRIBE big",
    "%table small",
    "%jobs",
    "%lsmagic",
    "%md # soak ${n=1}",
    "%sql --chart bar --x k --y n\nSELECT k, COUNT(*) AS n FROM big WHERE k < 10 GROUP BY k ORDER BY k",
    "EXPLAIN SELECT k, COUNT(*) FROM big GROUP BY k",
    "SELECT * FROM no_such_table",  # an error is an ordinary outcome too
]


def ddl_cell(rng: random.Random) -> str:
    j = rng.randrange(5)
    return rng.choice(
        [
            f"DROP TABLE IF EXISTS tmp_{j};\nCREATE TABLE tmp_{j} AS SELECT * FROM big WHERE k = {rng.randrange(97)}",
            f"DROP TABLE IF EXISTS tmp_{j}",
            f"CREATE OR REPLACE VIEW view_{j} AS SELECT k, COUNT(*) AS n FROM big WHERE i % {j + 2} = 0 GROUP BY k",
            f"DROP VIEW IF EXISTS view_{j}",
        ]
    )


INTERRUPTED_CELLS = [
    "%sql --duration 60s --refresh 200ms\nSELECT user_id, COUNT(*) AS n FROM ticks GROUP BY user_id",
    "%sql --duration 60s\nSELECT window_start, COUNT(*) AS c FROM TABLE(HOP(TABLE ticks, DESCRIPTOR(ts), "
    "INTERVAL '1' SECOND, INTERVAL '5' SECOND)) GROUP BY window_start, window_end",
    # A long batch join (hundreds of millions of rows in a debug build): interrupted mid-way.
    "SELECT COUNT(*), SUM(a.x + b.x) FROM big AS a JOIN big AS b ON a.k = b.k",
]

# Text that complete and inspect requests probe at random positions.
PROBE_TEXTS = BATCH_CELLS + INTERRUPTED_CELLS + [
    "SELECT * FROM bi",
    "SELECT k, na FROM small WHERE ",
    "%ta",
    "SELECT abs(x), upper(s) FROM big",
    "SELECT 日本, '🙂' FROM small",
]


class Sampler(threading.Thread):
    """Every SAMPLE_EVERY seconds: (seconds since start, RSS bytes, heartbeat seconds or None,
    what the main loop was doing)."""

    def __init__(self, kernel: KernelDriver):
        super().__init__(daemon=True)
        self.kernel = kernel
        self.samples: list[tuple[float, int, float | None, str]] = []
        self.doing = "start"
        self.stop = threading.Event()
        self.started_at = time.monotonic()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                t = time.monotonic() - self.started_at
                rss = self.kernel.rss_bytes()
                rtt = self.kernel.heartbeat(timeout=5.0)
                self.samples.append((t, rss, rtt, self.doing))
                self.stop.wait(max(0.0, SAMPLE_EVERY - (time.monotonic() - self.started_at - t)))
        except BaseException as error:  # noqa: BLE001 - reported by the test
            self.error = error


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(p / 100 * len(ordered))))
    return ordered[rank - 1]


def test_soak(tmp_path, capsys):
    cwd = tmp_path / "notebook"
    cwd.mkdir()
    kernel = KernelDriver(cwd, tmp_path / "kernel.log")
    try:
        soak(kernel, capsys)
    finally:
        kernel.shutdown()


def soak(kernel: KernelDriver, capsys) -> None:
    rng = random.Random(SEED)
    report: list[str] = []
    failures: list[str] = []
    counts: collections.Counter[str] = collections.Counter()
    interrupt_seconds: list[float] = []
    sampler = Sampler(kernel)

    def ok(code: str) -> CellRun:
        run = kernel.execute(code, timeout=CELL_TIMEOUT)
        assert run.status == "ok", f"{code!r}: {run.reply['content']}\n{kernel.log_tail()}"
        return run

    try:
        for code in SETUP:
            ok(code)
        background = ok(BACKGROUND)
        assert "Started job 1" in background.text(), background.text()
        background_id = background.msg_id

        sampler.start()
        started = time.monotonic()
        next_interrupt = started + 3.0
        while time.monotonic() - started < SECONDS:
            kernel.drain_iopub()
            if time.monotonic() >= next_interrupt:
                next_interrupt = time.monotonic() + rng.uniform(6.0, 12.0)
                code = INTERRUPTED_CELLS[counts["interrupted"] % len(INTERRUPTED_CELLS)]
                sampler.doing = "interrupt"
                counts["interrupted"] += 1
                t0 = time.monotonic()
                msg_id = kernel.kc.execute(code, stop_on_error=False)
                seen = kernel.wait_started(msg_id, timeout=CELL_TIMEOUT)
                time.sleep(INTERRUPT_AFTER)
                asked = time.monotonic()
                reply = kernel.interrupt()
                assert reply["header"]["msg_type"] == "interrupt_reply" and reply["content"]["status"] == "ok", reply
                run = kernel.finish(code, msg_id, t0, CELL_TIMEOUT, seen)
                interrupt_seconds.append(time.monotonic() - asked)
                errors = run.outputs("error")
                if run.status != "error" or run.ename != "Interrupted" or len(errors) != 1:
                    failures.append(f"interrupted cell {code!r}: status {run.status}, ename {run.ename!r}, {len(errors)} iopub errors")
                continue
            action = rng.choices(["batch", "ddl", "complete", "inspect"], weights=[5, 2, 3, 1])[0]
            sampler.doing = action
            counts[action] += 1
            if action in ("batch", "ddl"):
                code = rng.choice(BATCH_CELLS) if action == "batch" else ddl_cell(rng)
                run = kernel.execute(code, timeout=CELL_TIMEOUT)
                expected = "error" if "no_such_table" in code else "ok"
                if run.status != expected:
                    failures.append(f"cell {code!r}: {run.status} {run.ename}: {run.evalue[:300]}")
                if code == "%jobs" and "[1] running" not in run.text():
                    failures.append(f"%jobs does not list the background query as running: {run.text()!r}")
            else:
                text = rng.choice(PROBE_TEXTS)
                pos = rng.randint(0, len(text))
                if action == "complete":
                    reply = kernel.complete(text, pos)
                else:
                    reply = kernel.inspect(text, pos)
                if reply["content"].get("status") != "ok":
                    failures.append(f"{action} of {text!r} at {pos}: {reply['content']}")
        elapsed = time.monotonic() - started
        sampler.doing = "end"
        updates_before_end = kernel.others[(background_id, "update_display_data")]
        # The background query keeps updating: another update within a few refreshes.
        deadline = time.monotonic() + 10
        while kernel.others[(background_id, "update_display_data")] == updates_before_end and time.monotonic() < deadline:
            time.sleep(0.2)
            kernel.drain_iopub()
        updates = kernel.others[(background_id, "update_display_data")]
        cancel = ok("%cancel all")
        assert "Cancelled job 1" in cancel.text(), cancel.text()
    finally:
        sampler.stop.set()
        sampler.join(timeout=15)
        samples = sampler.samples
        report.append(f"soak: seed {SEED}, {SECONDS:g} s, actions {dict(sorted(counts.items()))}")
        report.append(f"{'t (s)':>7} {'RSS (MiB)':>10} {'heartbeat (ms)':>15}  doing")
        for t, rss, rtt, doing in samples:
            hb = f"{rtt * 1000:.1f}" if rtt is not None else "no echo"
            report.append(f"{t:7.1f} {rss / 2**20:10.1f} {hb:>15}  {doing}")
        with capsys.disabled():
            print("\n" + "\n".join(report), flush=True)

    assert sampler.error is None, f"sampler failed: {sampler.error!r}"
    assert len(samples) >= 8, f"only {len(samples)} samples"
    rtts = [rtt if rtt is not None else float("inf") for _, _, rtt, _ in samples]
    p50, p99 = percentile(rtts, 50), percentile(rtts, 99)
    n = len(samples)
    warm = statistics.median(rss for _, rss, _, _ in samples[n // 4 : n // 2])
    last = statistics.median(rss for _, rss, _, _ in samples[3 * n // 4 :])
    limit = warm * MEMORY_GROWTH + MEMORY_SLACK
    summary = [
        f"soak: {elapsed:.0f} s, {n} samples; cells: {counts['batch']} batch, {counts['ddl']} DDL, "
        f"{counts['interrupted']} interrupted; {counts['complete']} complete, {counts['inspect']} inspect requests",
        f"  heartbeat round trip: p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms (limit {HEARTBEAT_P99 * 1000:.0f} ms)",
        f"  RSS median: second quarter {warm / 2**20:.1f} MiB, last quarter {last / 2**20:.1f} MiB "
        f"(limit {limit / 2**20:.1f} MiB = ×{MEMORY_GROWTH} + {MEMORY_SLACK // 2**20} MiB)",
        f"  interrupt → reply: max {max(interrupt_seconds, default=0) * 1000:.0f} ms over {len(interrupt_seconds)} interrupts",
        f"  background query updates seen: {updates}",
    ]
    with capsys.disabled():
        print("\n".join(summary), flush=True)

    assert not failures, "\n".join(failures)
    assert counts["interrupted"] >= 2 or SECONDS < 20, counts
    assert updates > updates_before_end, "the background query stopped updating"
    assert p99 <= HEARTBEAT_P99, f"heartbeat p99 {p99 * 1000:.0f} ms"
    assert last <= limit, f"resident memory grew: {warm / 2**20:.1f} MiB → {last / 2**20:.1f} MiB"

    # %cancel asks the job to stop; it is listed as cancelled once it has.
    asked = time.monotonic()
    while "[1] cancelled" not in (listed := ok("%jobs").text()) and time.monotonic() - asked < 30:
        time.sleep(0.1)
    assert "[1] cancelled" in listed, f"the background query did not stop within 30 s of %cancel all:\n{listed}"
    with capsys.disabled():
        print(f"  background query listed as cancelled {time.monotonic() - asked:.2f} s after %cancel all", flush=True)
    assert kernel.is_alive()
    assert kernel.kernel_info()["content"]["status"] == "ok"
    assert kernel.heartbeat(timeout=10) is not None
