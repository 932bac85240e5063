"""Shared set-up for Eddy's Python tests.

The tests drive the real `eddy` binary through an installed kernelspec named "eddy". dev/test
builds the debug binary, installs the spec with `eddy install --prefix TMP` and points every
Jupyter path (JUPYTER_PATH, JUPYTER_DATA_DIR, JUPYTER_RUNTIME_DIR, ...) inside TMP, so run the
suite through it: `dev/test` (extra arguments go to pytest).
"""

from __future__ import annotations

import os
import pathlib
import shutil
import socket
import subprocess
import tempfile

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
KERNEL_NAME = "eddy"


def free_port() -> int:
    """A port nothing listens on now, for a service a test starts on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM, then SIGKILL after `timeout` s: the one process a test started."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


_scratch: str | None = None


def pytest_configure(config: pytest.Config) -> None:
    # Safety net for a bare `pytest` outside dev/test: kernels must not write connection files,
    # and ipykernel no history, into $HOME. (Without JUPYTER_PATH the eddy spec is not found
    # either, and the fixture below says how to run the suite.)
    global _scratch
    unset = [v for v in ("JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR") if v not in os.environ]
    if unset:
        _scratch = tempfile.mkdtemp(prefix="eddy-pytest-")
        for var in unset:
            os.environ[var] = os.path.join(_scratch, var.lower())
    os.environ.setdefault("JUPYTER_PLATFORM_DIRS", "1")


def pytest_unconfigure(config: pytest.Config) -> None:
    if _scratch:
        shutil.rmtree(_scratch, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def eddy_kernelspec():
    """The installed "eddy" kernelspec; stops the session with a hint when it is missing."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(KERNEL_NAME)
    except NoSuchKernel:
        pytest.exit(
            f"no {KERNEL_NAME!r} kernelspec on the Jupyter path: run these tests with dev/test, "
            "which builds eddy and installs its kernelspec into a temporary prefix",
            returncode=1,
        )
    if not os.access(spec.argv[0], os.X_OK):
        pytest.exit(f"kernelspec {spec.resource_dir} runs {spec.argv[0]}, which is not an executable", returncode=1)
    return spec


@pytest.fixture(scope="session")
def mubi_gen_bin() -> pathlib.Path:
    """The mubi-gen binary: $MUBI_GEN_BIN, else a debug build made with dev/env.sh's settings
    (so it shares the cargo cache of every other build)."""
    if os.environ.get("MUBI_GEN_BIN"):
        return pathlib.Path(os.environ["MUBI_GEN_BIN"])
    script = 'source dev/env.sh && cargo build -q -p mubi-gen --bin mubi-gen && echo "$CARGO_TARGET_DIR"'
    done = subprocess.run(["bash", "-c", script], cwd=REPO, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, f"building mubi-gen failed:\n{done.stderr}"
    return pathlib.Path(done.stdout.strip().splitlines()[-1]) / "debug" / "mubi-gen"


def generate_mubi(mubi_gen_bin: pathlib.Path, out: pathlib.Path, scale: str, seed: str = "42") -> pathlib.Path:
    """Writes the three MUBI-shaped CSV files into `out`."""
    subprocess.run(
        [str(mubi_gen_bin), "--scale", scale, "--seed", seed, "--out", str(out)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return out
