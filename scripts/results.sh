#!/usr/bin/env bash
# Trains the README's MNIST models with the CLI and prints the results table (markdown).
# Needs AUTOENCODERS_DATA with mnist/. About 2 minutes per model on 2 cores.
#
#   scripts/results.sh [runs-dir=runs/results]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
need cargo "install Rust with rustup (https://rustup.rs)"
need_python
out=${1:-runs/results}
: "${AUTOENCODERS_DATA:?set AUTOENCODERS_DATA to the datasets folder}"
cargo build --quiet
bin=target/debug/autoencoders
common=(--dataset mnist --epochs 20 --batch-size 32 --val-split 0 --patience 0 --quiet)
declare -A hidden=([shallow]="" [deep]="128,64")
mkdir -p "$out"
rows=()
for name in shallow deep; do
  dir="$out/mnist-$name"
  rm -rf "$dir"   # a fresh model each time (train refuses an --out that holds one)
  start=$(date +%s)
  $bin train "${common[@]}" --code 32 --hidden "${hidden[$name]}" --out "$dir" 2>"$dir.log" || { cat "$dir.log"; exit 1; }
  secs=$(( $(date +%s) - start ))
  $bin eval "$dir" >/dev/null 2>&1
  rows+=("$(python3 - "$dir" "$secs" <<'PY'
import json, sys
d, secs = sys.argv[1], sys.argv[2]
m = json.load(open(f"{d}/metrics.json"))
c = json.load(open(f"{d}/config.json"))["model"]
w = [c["input"], *c["hidden"], c["code"], *c["hidden"][::-1], c["input"]]
print(f"| {'→'.join(map(str, w))} | {m['test_bce']:.4f} | {m['test_mse']:.4f} | {m['test_psnr']:.2f} | {secs} s |")
PY
)")
done
echo "| model (MNIST, 20 epochs, batch 32, Adam 1e-3, linear code) | test BCE | test MSE | test PSNR (dB) | train time |"
echo "|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
