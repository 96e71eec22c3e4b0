#!/usr/bin/env bash
# Installs Jupyter and the evcxr Rust kernel if missing, then executes every notebook headless.
#
#   scripts/notebooks.sh [run|write|check]     (default: run; see scripts/notebooks.py)
#
# Repeated runs are fast because evcxr builds in one fixed directory, target/notebooks/evcxr,
# instead of a fresh temporary one per kernel: the dependencies compile once (about 10 min on
# 2 cores) and later kernels reuse them. target/notebooks/.cargo/config.toml, which cargo reads
# for every build below that directory, compiles the dependencies fully optimised and the
# notebook cells quickly.
set -euo pipefail
cd "$(dirname "$0")/.."
EVCXR_VERSION=0.22.0
cmd="${1:-run}"

if [ "$cmd" != check ]; then
  # The kernel, pinned; `--locked` uses the versions evcxr_jupyter was released with.
  if ! cargo install --list | grep -q "^evcxr_jupyter v$EVCXR_VERSION:"; then
    cargo install evcxr_jupyter --version "$EVCXR_VERSION" --locked
  fi
  python3 -c "import nbclient, nbformat, jupyter_client" 2>/dev/null \
    || python3 -m pip install -q -r scripts/notebooks-requirements.txt
  evcxr_jupyter --install >/dev/null

  export EVCXR_TMPDIR="$PWD/target/notebooks/evcxr"
  mkdir -p "$EVCXR_TMPDIR"
  # The same dependency versions as the crate's own build.
  cp Cargo.lock "$EVCXR_TMPDIR/Cargo.lock"
  mkdir -p target/notebooks/.cargo
  cat > target/notebooks/.cargo/config.toml <<'TOML'
# Written by scripts/notebooks.sh. Overrides the profile evcxr generates (opt-level 2 with debug
# assertions everywhere): dependencies, this crate included, fully optimised; cells at
# opt-level 1, which compiles a cell in seconds and still runs our generic training loop fast.
[profile.dev]
opt-level = 1
[profile.dev.package."*"]
opt-level = 3
debug-assertions = false
overflow-checks = false
TOML
fi
python3 scripts/notebooks.py "$cmd"
