#!/usr/bin/env bash
# Side by side: one training epoch of the same dense autoencoder in this crate (release build)
# and in PyTorch (CPU, 2 threads), alternating for several rounds on the same machine.
# Prints each run and the medians and their ratio. Needs AUTOENCODERS_DATA (MNIST) and
# `pip install torch numpy`.
#
#   scripts/bench_dense.sh [rounds=5] [hidden=256] [code=64] [batch=256]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5} hidden=${2:-256} code=${3:-64} batch=${4:-256}
: "${AUTOENCODERS_DATA:?set AUTOENCODERS_DATA to the datasets folder}"
cargo build --release --example dense_epoch >&2
log=$(mktemp)
for r in $(seq "$rounds"); do
  target/release/examples/dense_epoch --hidden "$hidden" --code "$code" --batch "$batch" --epochs 1 | tee -a "$log"
  python3 scripts/pytorch_dense.py --hidden "$hidden" --code "$code" --batch "$batch" --epochs 1 --threads 2 | tee -a "$log"
done
python3 - "$log" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
med = {k: statistics.median(r["seconds"] for r in rows if r["impl"] == k) for k in ("autoencoders", "pytorch")}
print(f"\nmodel {rows[0]['model']}, {len(rows)//2} rounds, median seconds per 60k-sample epoch:")
for k, v in med.items():
    print(f"  {k:13s} {v:7.3f} s  {60000 / v:9.0f} samples/s")
print(f"  ratio autoencoders / pytorch = {med['autoencoders'] / med['pytorch']:.2f}")
PY
