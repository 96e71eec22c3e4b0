#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser of user files (fuzz/targets.rs) with AFL++, on the
# stable toolchain. Each target runs for SECONDS (default 600) from seeds made by the harness
# (small files in every format, plus the real files of AUTOENCODERS_DATA when it is set), as
# many targets at once as there are cores. Prints one row per target: executions, paths found,
# crashes and hangs; crashing inputs are in fuzz/out/<target>/default/crashes/.
#
#   cargo install cargo-afl           # once: builds AFL++ with the C compiler (needs make, cc)
#   scripts/fuzz.sh [SECONDS] [TARGET ...]
#
# The harness lets a panic that our code catches (a third-party reader's, turned into an
# error) pass; one that escapes aborts: a crash. Triage runs every saved crash and hang through
# the test harness (no panic, no hang, memory within budget):
#   FUZZ_REPLAY=fuzz/out cargo test --test fuzz_parsers
# Every crash found becomes a file in tests/fixtures/fuzz/ and a case of
# tests/fuzz_parsers.rs::what_fuzzing_found_stays_fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
need cargo-afl "cargo install cargo-afl (then it builds AFL++ on first use)"
secs=${1:-600}
shift || true
cd fuzz
cargo afl build --locked 2>&1 | tail -1
bin=target/debug/fuzz
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <("$bin" list | cut -f1)
rm -rf seeds && "$bin" seeds seeds && mkdir -p out
jobs=${FUZZ_JOBS:-$(nproc)}   # targets at once
run_one() {
  local t=$1
  rm -rf "out/$t"
  # No UI; this machine's core_pattern and CPU governor are not ours to change.
  AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1 \
    cargo afl fuzz -i "seeds/$t" -o "out/$t" -V "$secs" -- "$bin" "$t" > "out-$t.log" 2>&1 || {
      echo "afl-fuzz failed on $t: see fuzz/out-$t.log" >&2; tail -5 "out-$t.log" >&2; }
}
running=0
for t in "${targets[@]}"; do
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
done
wait
stat() { sed -n "s/^$2 *: *//p" "out/$1/default/fuzzer_stats"; }
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), avx512f: $(grep -q avx512f /proc/cpuinfo && echo yes || echo no)"
printf '| %-10s | %8s | %12s | %8s | %10s | %7s | %5s |\n' target seconds executions "execs/s" paths crashes hangs
printf '|%s|\n' "------------|----------|--------------|----------|------------|---------|-------"
for t in "${targets[@]}"; do
  printf '| %-10s | %8s | %12s | %8s | %10s | %7s | %5s |\n' "$t" "$(stat "$t" run_time)" "$(stat "$t" execs_done)" \
    "$(stat "$t" execs_per_sec)" "$(stat "$t" corpus_count)" "$(stat "$t" saved_crashes)" "$(stat "$t" saved_hangs)"
done
