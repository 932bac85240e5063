"""A real Apache Flink cluster and SQL Gateway for the Python tests: dev/flink/cluster (a
JobManager, a TaskManager and the gateway of Flink 2.3, on 127.0.0.1) on free ports, stopped
when the `with` block ends (the script stops Flink when its standard input closes)."""

from __future__ import annotations

import contextlib
import pathlib
import subprocess
from collections.abc import Iterator

from conftest import REPO, free_port, stop_process


@contextlib.contextmanager
def flink_gateway(directory: pathlib.Path) -> Iterator[str]:
    """Runs a Flink cluster with its conf and logs in `directory`; yields the gateway's
    address, HOST:PORT."""
    gateway = free_port()
    log = (directory / "flink-cluster.log").open("wb")
    cluster = subprocess.Popen(
        [
            str(REPO / "dev" / "flink" / "cluster"),
            "--rest-port", str(free_port()),
            "--gateway-port", str(gateway),
            "--rpc-port", str(free_port()),
            "--dir", str(directory / "flink"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
    )
    try:
        # The script prints the gateway's URL once the TaskManager has joined, or exits.
        ready = cluster.stdout.readline().decode().strip() if cluster.stdout else ""
        if not ready.startswith("http://"):
            raise RuntimeError(f"Flink did not start: {(directory / 'flink-cluster.log').read_text()}")
        yield f"127.0.0.1:{gateway}"
    finally:
        # The script stops Flink on SIGTERM (and waits for it) as on the end of its stdin.
        stop_process(cluster, timeout=60)
        log.close()
