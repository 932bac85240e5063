"""A real Apache Kafka broker for the Python tests: dev/kafka/broker (one KRaft node on
127.0.0.1, from Maven Central's jars) on free ports, with topics made by Kafka's own
kafka-topics (dev/kafka/topics), stopped when the `with` block ends."""

from __future__ import annotations

import contextlib
import pathlib
import socket
import subprocess
import time
from collections.abc import Iterator

from conftest import REPO, free_port, stop_process


@contextlib.contextmanager
def kafka_broker(directory: pathlib.Path, topics: dict[str, int]) -> Iterator[str]:
    """Runs a broker with its data in `directory` and `topics` (name: partitions) made;
    yields its bootstrap address."""
    port, controller = free_port(), free_port()
    log = (directory / "broker.log").open("w")
    broker = subprocess.Popen(
        [
            str(REPO / "dev" / "kafka" / "broker"),
            "--port", str(port),
            "--controller-port", str(controller),
            "--dir", str(directory / "kafka"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    bootstrap = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if broker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Kafka broker did not start: {(directory / 'broker.log').read_text()}")
            time.sleep(0.2)
        for topic, partitions in topics.items():
            subprocess.run(
                [
                    str(REPO / "dev" / "kafka" / "topics"),
                    "--bootstrap-server", bootstrap,
                    "--create", "--topic", topic, "--partitions", str(partitions),
                ],
                check=True,
                capture_output=True,
                timeout=120,
            )
        yield bootstrap
    finally:
        stop_process(broker, timeout=30)
        log.close()
