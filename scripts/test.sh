#!/usr/bin/env bash
# The whole test suite: the Rust tests, then the notebooks (committed outputs current, and every
# notebook executed headless from a clean kernel). `.ci/run` calls this.
#
#   AUTOENCODERS_DATA=../shared/datasets scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
cargo test --locked
t1=$(date +%s)
scripts/notebooks.sh check
scripts/notebooks.sh run
t2=$(date +%s)
echo "tests: cargo test $(( t1 - t0 )) s, notebooks $(( t2 - t1 )) s"
