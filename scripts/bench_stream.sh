#!/usr/bin/env bash
# Larger than memory: one epoch of a dense autoencoder on a 20-million-row parquet table
# (32 float columns, ~2.4 GB) streamed under a 1 GiB memory limit (a cgroup-v1 memory group;
# run as root), against the same model on an in-memory table of 1 million rows; then `encode`
# of the big table's test part, streamed to parquet, under the same limit. Also shows that
# loading the big table without --stream fails under the limit.
#
#   scripts/bench_stream.sh [WORKDIR] [-- train flags]     e.g. scripts/bench_stream.sh /tmp/big -- --hidden 128,64 --code 8
#
# Prints the CPU, each run's rows/s (from the epoch line), peak RSS (GNU time) and the ratio.
# AUTOENCODERS_BIN and MAKE_BIG_TABLE name already-built binaries (e.g. the `dev` profile's, to
# skip a release build of every dependency); otherwise both are built with --release.
set -euo pipefail
work=${1:-/tmp/autoencoders-bench-stream}; shift || true
[ "${1:-}" = "--" ] && shift
flags=("$@"); [ ${#flags[@]} -eq 0 ] && flags=(--hidden 128,64 --code 8)
root=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${AUTOENCODERS_BIN:-}" ] || [ -z "${MAKE_BIG_TABLE:-}" ]; then
    cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin autoencoders --example make_big_table
fi
bin=${AUTOENCODERS_BIN:-$root/target/release/autoencoders}
make=${MAKE_BIG_TABLE:-$root/target/release/examples/make_big_table}
mkdir -p "$work"
[ -f "$work/big.parquet" ] || "$make" "$work/big.parquet" 20000000
[ -f "$work/small.parquet" ] || "$make" "$work/small.parquet" 1000000

group=/sys/fs/cgroup/memory/autoencoders-bench
mkdir -p "$group"
echo $((1 << 30)) > "$group/memory.limit_in_bytes"
[ -f "$group/memory.memsw.limit_in_bytes" ] && echo $((1 << 30)) > "$group/memory.memsw.limit_in_bytes"
limited() { ( echo $BASHPID > "$group/cgroup.procs"; exec "$@" ); }

grep -m1 'model name' /proc/cpuinfo; grep -qw avx512f /proc/cpuinfo && echo "avx512f: yes" || echo "avx512f: no"
echo "model flags: ${flags[*]}"
rate() { grep -o '[0-9]* samples/s' "$1" | tail -1 | cut -d' ' -f1; }
rss() { grep -o 'peak RSS [0-9]* KB' "$1" | tail -1; }

rm -rf "$work/small-model" "$work/loaded" "$work/big-model"   # fresh models on every run
/usr/bin/time -f 'peak RSS %M KB' "$bin" train --dataset "$work/small.parquet" "${flags[@]}" --epochs 1 \
    --out "$work/small-model" --quiet 2> "$work/small.log" || { cat "$work/small.log"; exit 1; }
echo "in memory, 1M rows:       $(rate "$work/small.log") rows/s, $(rss "$work/small.log")"

if limited "$bin" train --dataset "$work/big.parquet" "${flags[@]}" --epochs 1 --out "$work/loaded" --quiet \
    > "$work/loaded.log" 2>&1; then
    echo "loading 20M rows in memory under 1 GiB unexpectedly worked"
else
    echo "in memory, 20M rows, 1 GiB limit: failed as expected (exit $?)"
fi

limited /usr/bin/time -f 'peak RSS %M KB' "$bin" train --dataset "$work/big.parquet" --stream "${flags[@]}" \
    --epochs 1 --out "$work/big-model" --quiet 2> "$work/big.log" || { cat "$work/big.log"; exit 1; }
echo "streamed, 20M rows, 1 GiB: $(rate "$work/big.log") rows/s, $(rss "$work/big.log")"
awk -v a="$(rate "$work/big.log")" -v b="$(rate "$work/small.log")" 'BEGIN { printf "ratio streamed / in memory: %.2f\n", a / b }'

limited /usr/bin/time -f 'peak RSS %M KB' "$bin" encode "$work/big-model" --output "$work/codes.parquet" \
    2> "$work/encode.log" || { cat "$work/encode.log"; exit 1; }
echo "encode (streamed), 1 GiB: $(grep -o 'wrote .*' "$work/encode.log"), $(rss "$work/encode.log")"
echo "cgroup peak (incl. page cache): $(( $(cat "$group/memory.max_usage_in_bytes") >> 20 )) MiB"
