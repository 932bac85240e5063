# shellcheck shell=bash
# Sourced by dev/lab, dev/test, dev/bench-kernel (and so by .ci/run): the one place that says
# how Eddy is built and where its Python tools live, so every script shares one cargo cache.

EDDY_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$EDDY_ROOT/.venv"

# Build outside the clone: CI works in a fresh clone each run, while a target dir under $HOME
# survives between runs and is shared by every checkout on the machine.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/eddy-target}"

# mold links DataFusion-sized binaries several times faster than ld. RUSTFLAGS is part of
# cargo's cache key, so its value is decided here and nowhere else: a script that set it
# differently would rebuild every dependency. An explicit RUSTFLAGS from the caller wins.
if ! command -v mold >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "dev/env.sh: installing mold (linker)…" >&2
    { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mold ||
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mold; }
    } >/dev/null 2>&1 || echo "dev/env.sh: no mold, linking with the default linker" >&2
fi
if [ -z "${RUSTFLAGS+set}" ] && command -v mold >/dev/null 2>&1; then
    export RUSTFLAGS="-C link-arg=-fuse-ld=mold"
fi

# Print a stage banner, so a CI log shows where a failure happened.
stage() {
    printf '\n==> %s\n' "$*"
}

# Create .venv and install tests/requirements.txt into it, but only when that file (or the
# Python it was installed for) changed since the last install: pip takes seconds even when
# there is nothing to do.
ensure_venv() {
    local req="$EDDY_ROOT/tests/requirements.txt" stamp="$VENV/.requirements.sha256" want
    want="$({ python3 --version; cat "$req"; } | sha256sum | cut -d' ' -f1)"
    if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
        return 0
    fi
    # A venv made by another python3 is broken beyond pip's repair: start again.
    if ! "$VENV/bin/python" -c '' 2>/dev/null; then
        rm -rf "$VENV"
        python3 -m venv "$VENV"
    fi
    echo "Installing tests/requirements.txt into $VENV"
    "$VENV/bin/python" -m pip install -q -r "$req"
    echo "$want" >"$stamp"
}

# build_eddy [--release]: build the `eddy` binary and set EDDY_BIN to its path.
build_eddy() {
    local profile=debug args=()
    if [ "${1:-}" = --release ]; then
        profile=release
        args=(--release)
    fi
    (cd "$EDDY_ROOT" && cargo build "${args[@]}" -p eddy-kernel --bin eddy)
    export EDDY_BIN="$CARGO_TARGET_DIR/$profile/eddy"
}

# jupyter_sandbox DIR: point every Jupyter and IPython path at DIR, so kernelspecs, runtime
# (connection) files, config and IPython history stay out of $HOME. Install kernelspecs with
# `eddy install --prefix DIR`: that writes DIR/share/jupyter/kernels/NAME, found through
# JUPYTER_PATH ahead of any kernelspec in the venv.
jupyter_sandbox() {
    local dir="$1"
    mkdir -p "$dir/share/jupyter" "$dir/data" "$dir/runtime" "$dir/config" "$dir/ipython"
    export JUPYTER_PATH="$dir/share/jupyter"
    export JUPYTER_DATA_DIR="$dir/data"
    export JUPYTER_RUNTIME_DIR="$dir/runtime"
    export JUPYTER_CONFIG_DIR="$dir/config"
    export IPYTHONDIR="$dir/ipython"
    # Opt in to jupyter_core's new paths now: silences its migration warning in every run.
    export JUPYTER_PLATFORM_DIRS=1
}

# ---- Frontend test tools (tests/python/test_jupyterlab_browser.py, test_jupyterhub.py,
# test_collaboration.py): a browser for Playwright and JupyterHub's proxy. ----

# ensure_browser: Debian's Chromium, which Playwright drives (its own browser downloads do not
# work on these machines). As root it is installed with apt-get; otherwise say how.
ensure_browser() {
    if [ -x /usr/bin/chromium ]; then
        return 0
    fi
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "dev/env.sh: installing chromium (browser tests)…" >&2
        { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium ||
            { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }
        } >/dev/null && return 0
    fi
    echo "dev/env.sh: the browser tests need /usr/bin/chromium: sudo apt-get install chromium" >&2
    return 1
}

# ensure_node_modules: the npm packages of tests/package.json (configurable-http-proxy, for
# JupyterHub), installed with `npm ci` from tests/package-lock.json into .venv/node/, again only
# when those files changed.
ensure_node_modules() {
    local dir="$VENV/node" stamp="$VENV/node/.package-lock.sha256" want
    want="$(cat "$EDDY_ROOT/tests/package.json" "$EDDY_ROOT/tests/package-lock.json" | sha256sum | cut -d' ' -f1)"
    if [ -d "$dir/node_modules" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
        return 0
    fi
    if ! command -v npm >/dev/null 2>&1; then
        echo "dev/env.sh: the JupyterHub test needs Node.js >= 20 and npm" >&2
        return 1
    fi
    echo "Installing tests/package.json into $dir"
    rm -rf "$dir"
    mkdir -p "$dir"
    cp "$EDDY_ROOT/tests/package.json" "$EDDY_ROOT/tests/package-lock.json" "$dir/"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" >"$stamp"
}

# ---- Fuzzing (dev/fuzz, and a bounded run in dev/test): cargo-fuzz with the nightly toolchain
# that rustup installs beside stable. ----

# Where the fuzz targets build: their own directory, since nightly and libFuzzer's
# instrumentation make every crate different from the other builds.
export EDDY_FUZZ_TARGET_DIR="${EDDY_FUZZ_TARGET_DIR:-$HOME/.cache/eddy-fuzz-target}"

# ensure_cargo_fuzz: the nightly toolchain and cargo-fuzz (from crates.io, at a fixed
# version), installed once.
ensure_cargo_fuzz() {
    if ! rustup run nightly rustc --version >/dev/null 2>&1; then
        echo "dev/env.sh: installing the nightly toolchain (cargo fuzz needs it)…" >&2
        rustup toolchain install nightly --profile minimal
    fi
    if ! cargo fuzz --version 2>/dev/null | grep -q '0.13.2'; then
        echo "dev/env.sh: installing cargo-fuzz 0.13.2…" >&2
        # Built apart from the project's target directory and flags.
        CARGO_TARGET_DIR="$HOME/.cache/eddy-tools-target" RUSTFLAGS= \
            cargo install cargo-fuzz --version 0.13.2 --locked --quiet
    fi
}
