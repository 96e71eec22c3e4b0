#!/usr/bin/env bash
# Executes every notebook headless with a real Jupyter and the evcxr Rust kernel, installing
# both first when missing — all of it inside target/, nothing in the user's Python or home:
#   target/notebooks/venv    Jupyter's Python packages (scripts/notebooks-requirements.txt)
#                            and the kernel's spec (share/jupyter/kernels/rust)
#   target/tools/bin         evcxr_jupyter, unless the pinned version is already on PATH
#
#   scripts/notebooks.sh [run|write|check]     (default: run; see scripts/notebooks.py)
#
# `check` needs only python3: it reads the committed notebooks with the standard library.
#
# Repeated runs are fast because evcxr builds in one fixed directory, target/notebooks/evcxr,
# instead of a fresh temporary one per kernel: the dependencies compile once and later kernels
# reuse them. `scripts/test.sh` compiles them there already, with the same settings, when it
# builds the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
EVCXR_VERSION=0.22.0
cmd="${1:-run}"

need_python
if [ "$cmd" = check ]; then
  # -I -S: no site-packages at all, so `check` cannot come to depend on an installed package.
  exec python3 -I -S scripts/notebooks.py check
fi

need cargo "install Rust with rustup (https://rustup.rs)"
VENV=target/notebooks/venv
venv "$VENV" scripts/notebooks-requirements.txt

# The kernel, pinned; `--locked` uses the versions evcxr_jupyter was released with.
installed() { cargo install --list "$@" 2>/dev/null | grep -q "^evcxr_jupyter v$EVCXR_VERSION:"; }
if installed && command -v evcxr_jupyter >/dev/null; then
  evcxr=$(command -v evcxr_jupyter)                  # the user's own, of the pinned version
else
  evcxr=$PWD/target/tools/bin/evcxr_jupyter
  if ! installed --root target/tools || [ ! -x "$evcxr" ]; then
    echo "building evcxr_jupyter $EVCXR_VERSION into target/tools (once)" >&2
    cargo install evcxr_jupyter --version "$EVCXR_VERSION" --locked --root target/tools
  fi
fi
# The kernel spec goes into the virtual environment, which Jupyter searches first.
export JUPYTER_PATH="$PWD/$VENV/share/jupyter"
"$evcxr" --install >/dev/null

export EVCXR_TMPDIR="$PWD/target/notebooks/evcxr"
mkdir -p "$EVCXR_TMPDIR"
# The same dependency versions as the crate's own build: notebooks.py copies Cargo.lock into
# $EVCXR_TMPDIR before each `:dep` cell (evcxr's start-up build prunes an earlier copy).
mkdir -p target/notebooks/.cargo
cat > target/notebooks/.cargo/config.toml <<'TOML'
# Written by scripts/notebooks.sh. The notebook cells (the root crate of evcxr's build) at
# opt-level 1, which compiles a cell in seconds; every dependency, this crate included, keeps
# the settings of the repository's .cargo/config.toml, so it is the build `scripts/test.sh`
# already made.
[profile.dev]
opt-level = 1
debug = false
TOML
"$VENV/bin/python" scripts/notebooks.py "$cmd"
