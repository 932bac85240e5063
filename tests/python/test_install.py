"""`eddy install` and the command line, as a user installing into a Jupyter sees them."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest


@pytest.fixture
def eddy(eddy_kernelspec) -> str:
    """The eddy binary under test (the one the installed kernelspec runs)."""
    return eddy_kernelspec.argv[0]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=60, env=env)


def kernelspecs(prefix: pathlib.Path) -> dict:
    env = dict(os.environ, JUPYTER_PATH=str(prefix / "share" / "jupyter"))
    listed = run(sys.executable, "-m", "jupyter", "kernelspec", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    return json.loads(listed.stdout)["kernelspecs"]


def test_version_and_help(eddy: str) -> None:
    version = run(eddy, "--version")
    assert version.returncode == 0
    assert version.stdout.startswith("eddy ")
    help_text = run(eddy, "--help").stdout
    assert "install" in help_text and "kernel" in help_text


def test_install_writes_a_spec_jupyter_lists(eddy: str, tmp_path: pathlib.Path) -> None:
    installed = run(eddy, "install", "--prefix", str(tmp_path))
    assert installed.returncode == 0, installed.stderr
    spec_dir = tmp_path / "share" / "jupyter" / "kernels" / "eddy"
    spec = json.loads((spec_dir / "kernel.json").read_text())
    assert spec["argv"][0] == os.path.realpath(eddy)
    assert spec["argv"][1:] == ["kernel", "--connection-file", "{connection_file}"]
    assert spec["display_name"] == "Eddy (SQL)"
    assert spec["language"] == "sql"
    assert spec["interrupt_mode"] == "message"
    for logo in ("logo-32x32.png", "logo-64x64.png", "logo-svg.svg"):
        assert (spec_dir / logo).stat().st_size > 0

    listed = kernelspecs(tmp_path)
    assert listed["eddy"]["spec"]["display_name"] == "Eddy (SQL)"


def test_installing_again_replaces_the_spec_cleanly(eddy: str, tmp_path: pathlib.Path) -> None:
    assert run(eddy, "install", "--prefix", str(tmp_path)).returncode == 0
    spec_dir = tmp_path / "share" / "jupyter" / "kernels" / "eddy"
    (spec_dir / "stale.txt").write_text("left over from an old install")
    again = run(eddy, "install", "--prefix", str(tmp_path), "--display-name", "Eddy SQL (dev)")
    assert again.returncode == 0, again.stderr
    assert not (spec_dir / "stale.txt").exists()
    assert kernelspecs(tmp_path)["eddy"]["spec"]["display_name"] == "Eddy SQL (dev)"
    assert sorted(p.name for p in spec_dir.parent.iterdir()) == ["eddy"]


def test_sys_prefix_installs_into_the_active_environment(eddy: str, tmp_path: pathlib.Path) -> None:
    env = dict(os.environ, VIRTUAL_ENV=str(tmp_path))
    installed = run(eddy, "install", "--sys-prefix", "--name", "eddy-env", env=env)
    assert installed.returncode == 0, installed.stderr
    assert (tmp_path / "share/jupyter/kernels/eddy-env/kernel.json").exists()


def test_bad_input_gets_a_clear_error(eddy: str, tmp_path: pathlib.Path) -> None:
    bad_name = run(eddy, "install", "--prefix", str(tmp_path), "--name", "../escape")
    assert bad_name.returncode != 0
    assert "kernel name" in bad_name.stderr

    missing = run(eddy, "kernel", "--connection-file", str(tmp_path / "nowhere.json"))
    assert missing.returncode != 0
    assert "cannot read connection file" in missing.stderr

    broken = tmp_path / "broken.json"
    broken.write_text("{ not json")
    assert "is not valid" in run(eddy, "kernel", "--connection-file", str(broken)).stderr
