#!/usr/bin/env bash
# The whole test suite: the Rust tests, then the notebooks (committed outputs current, and every
# notebook executed headless from a clean kernel). `.ci/run` calls this.
#
#   AUTOENCODERS_DATA=../shared/datasets scripts/test.sh
#
# Needs a Rust toolchain and python3 (3.9+, with venv); everything else (Jupyter's packages, the
# evcxr kernel) it installs under target/ on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
need cargo "install Rust with rustup (https://rustup.rs)"
need_python
t0=$(date +%s)
# Built exactly as the notebooks' kernel (evcxr) builds — into its target folder, for the host
# triple named explicitly, with `-Cprefer-dynamic` — so that the kernel finds every dependency
# already compiled instead of building the whole tree a second time (18 min on 2 cores). The
# profile both use is in .cargo/config.toml. Cargo puts the standard library's folder on the
# tests' library path, so the dynamically linked test binaries run as usual.
host=$(rustc -vV | sed -n 's/^host: //p')
CARGO_TARGET_DIR="$PWD/target/notebooks/evcxr/target" RUSTFLAGS="-Cprefer-dynamic" \
  cargo test --locked --target "$host"
t1=$(date +%s)
# Committed notebooks must hold the outputs of the current code (their fingerprint covers src/):
# CI fails on a stale one; elsewhere a stale notebook is re-executed and saved (`write`), so a
# change in src/ costs one pass over the notebooks, not a failed run and then a second pass.
if scripts/notebooks.sh check; then
  scripts/notebooks.sh run
elif [ "${CI:-}" = true ]; then
  exit 1
else
  echo "re-executing the notebooks and saving their outputs (scripts/notebooks.sh write)" >&2
  scripts/notebooks.sh write
  scripts/notebooks.sh check
fi
t2=$(date +%s)
echo "tests: cargo test $(( t1 - t0 )) s, notebooks $(( t2 - t1 )) s"
