"""Runs a bench script again under PyFlink's own Python and reads back the figure it prints.

PyFlink pins its own pandas and pyarrow, so it usually lives in a venv of its own
(.venv-flink): each bench runs its PyFlink part as `python SCRIPT --pyflink-only …`, which
prints one line `MARKER value`.
"""

from __future__ import annotations

import subprocess


def pyflink_output(python: str, script: str, args: list[str], marker: str, timeout: float = 3600) -> str:
    """The text after `marker` on the line the PyFlink run prints; fails with its output."""
    done = subprocess.run(
        [python, script, "--pyflink-only", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    for line in done.stdout.splitlines():
        if line.startswith(marker + " "):
            return line.split(" ", 1)[1]
    raise RuntimeError(f"PyFlink failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
