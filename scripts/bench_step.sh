#!/usr/bin/env bash
# Side by side: one training step and one inference batch of each model family in this crate
# (`cargo bench --bench step`) and in PyTorch (`scripts/pytorch_step.py`, CPU, 2 threads),
# alternating for several rounds on the same machine; prints the medians and their ratios.
# Needs `pip install torch numpy`. No dataset needed (fixed synthetic batches).
#
#   scripts/bench_step.sh [rounds=3] [steps per round=10]
#   PROFILE=release scripts/bench_step.sh      # default: the `dev` profile (no polars rebuild)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
need cargo "install Rust with rustup (https://rustup.rs)"
need_modules "pip install torch numpy (the PyTorch side of the comparison)" torch numpy
rounds=${1:-3} steps=${2:-10} profile=${PROFILE:-dev}
log=$(mktemp)
cargo bench --profile "$profile" --bench step --no-run >&2
for r in $(seq "$rounds"); do
  cargo bench --profile "$profile" --bench step -- "$steps" 2>/dev/null | grep batch | sed 's/^/ours  /' | tee -a "$log"
  python3 scripts/pytorch_step.py "$steps" | grep batch | sed 's/^/torch /' | tee -a "$log"
done
python3 - "$log" "$rounds" <<'PY'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    m = re.match(r"(\w+)\s+(.*?)\s+batch\s+(\d+): train step\s+([\d.]+) ms\s+inference\s+([\d.]+) ms", line)
    if m:
        who, name, batch, train, infer = m.groups()
        rows.setdefault((name.strip(), batch, who), []).append((float(train), float(infer)))
print(f"\n{sys.argv[2]} rounds, medians (ms), ours / PyTorch:")
for name, batch in sorted({(k[0], k[1]) for k in rows}):
    ours, torch = rows[(name, batch, "ours")], rows[(name, batch, "torch")]
    med = lambda rs, i: statistics.median(r[i] for r in rs)
    t0, t1, i0, i1 = med(ours, 0), med(torch, 0), med(ours, 1), med(torch, 1)
    print(f"  {name:40s} batch {batch:>3}: train {t0:7.2f} / {t1:7.2f} = {t0 / t1:.2f}x   inference {i0:6.2f} / {i1:6.2f} = {i1 and i0 / i1:.2f}x")
PY
