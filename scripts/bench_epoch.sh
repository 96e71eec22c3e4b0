#!/usr/bin/env bash
# Side by side: one training epoch of the same autoencoder in this crate (release build) and in
# PyTorch (CPU, 2 threads), alternating for several rounds on the same machine. Prints each run
# and the medians and their ratio. Needs AUTOENCODERS_DATA (MNIST) and `pip install torch numpy`.
#
#   scripts/bench_epoch.sh [model=dense] [rounds=5] [hidden=256] [code=64] [batch=256]
#   scripts/bench_epoch.sh conv 5 "" 64 64     # the convolutional autoencoder (MNIST)
#   scripts/bench_epoch.sh lstm 5 "" 8 32      # the LSTM autoencoder (ECG5000, 500 beats)
#   PROFILE=dev scripts/bench_epoch.sh dense 3   # the `dev` profile: no release rebuild of polars
#   VARIANT=vae scripts/bench_epoch.sh dense 5 400 20 128   # PyTorch's VAE example
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
need cargo "install Rust with rustup (https://rustup.rs)"
need_modules "pip install torch numpy (the PyTorch side of the comparison)" torch numpy
model=${1:-dense} rounds=${2:-5} hidden=${3-256} code=${4:-64} batch=${5:-256} variant=${VARIANT:-plain}
: "${AUTOENCODERS_DATA:?set AUTOENCODERS_DATA to the datasets folder}"
profile=${PROFILE:-release}
dir=$([ "$profile" = dev ] && echo debug || echo "$profile")
cargo build --profile "$profile" --example epoch >&2
log=$(mktemp) rss=$(mktemp)
# Peak resident memory of each run (GNU time's %M, KiB), when GNU time is installed.
timed() {
  local who=$1; shift
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f "{\"impl\": \"$who\", \"max_rss_kib\": %M}" -a -o "$rss" "$@"
  else
    "$@"
  fi
}
for r in $(seq "$rounds"); do
  timed autoencoders target/$dir/examples/epoch --model "$model" --hidden "$hidden" --code "$code" --batch "$batch" --epochs 1 --variant "$variant" | tee -a "$log"
  timed pytorch python3 scripts/pytorch_epoch.py --model "$model" --hidden "$hidden" --code "$code" --batch "$batch" --epochs 1 --threads 2 --variant "$variant" | tee -a "$log"
done
python3 - "$log" "$rss" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
mem = [json.loads(l) for l in open(sys.argv[2]) if l.startswith("{")]
med = {k: statistics.median(r["seconds"] for r in rows if r["impl"] == k) for k in ("autoencoders", "pytorch")}
step = {k: statistics.median(r["ms_per_step"] for r in rows if r["impl"] == k) for k in ("autoencoders", "pytorch")}
print(f"\nmodel {rows[0]['model']}, {len(rows)//2} rounds, medians per training epoch:")
for k, v in med.items():
    print(f"  {k:13s} {v:7.3f} s/epoch  {step[k]:8.2f} ms/step")
print(f"  ratio autoencoders / pytorch = {med['autoencoders'] / med['pytorch']:.2f}")
for k in ("autoencoders", "pytorch"):
    kib = [m["max_rss_kib"] for m in mem if m["impl"] == k]
    if kib:
        print(f"  {k:13s} peak memory {statistics.median(kib) / 1024:7.1f} MiB (median of {len(kib)})")
PY
