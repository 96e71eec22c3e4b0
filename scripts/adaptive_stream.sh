#!/usr/bin/env bash
# The adaptive autoencoder against fixed-width denoising autoencoders on one pass of an MNIST
# stream, and prints the README's table (markdown). Trains, in order: the adaptive model from
# START features; its fixed-width control (`--fixed-width`: the same hard pool and passes over
# it, so the same gradient updates) at START and at the width the adaptive model reached; and a
# plain denoising autoencoder (no pool) at that width. Each is scored by `eval` (test BCE of
# reconstructing clean test images from masked ones). About 30 s per row on 2 cores.
#
#   scripts/adaptive_stream.sh [ORDER=class-incremental] [START=100] [LR=0.01] [runs-dir=runs/adaptive] [SEED=0]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
need cargo "install Rust with rustup (https://rustup.rs)"
need_python
order=${1:-class-incremental}
start=${2:-100}
lr=${3:-0.01}
out=${4:-runs/adaptive}
seed=${5:-0}
: "${AUTOENCODERS_DATA:?set AUTOENCODERS_DATA to the datasets folder}"
cargo build --quiet
bin=target/debug/autoencoders
common=(--dataset mnist --stream-order "$order" --noise mask:0.25 --epochs 1 --val-split 0.1 --patience 0 --lr "$lr" --seed "$seed" --quiet)
base="$out/$order-$start-lr$lr-seed$seed"
mkdir -p "$base"

# run NAME FLAGS...: trains into $base/NAME (fresh) and evaluates it.
run() {
  local name=$1; shift
  rm -rf "${base:?}/$name"
  $bin train "${common[@]}" "$@" --out "$base/$name" 2>"$base/$name.log" || { cat "$base/$name.log"; exit 1; }
  $bin eval "$base/$name" >/dev/null 2>&1
}
run adaptive --variant adaptive --start-features "$start"
# The last row of adaptive.csv: where training stopped (samples, updates, width).
width=$(tail -1 "$base/adaptive/adaptive.csv" | cut -d, -f3)
run "fixed-$start" --variant adaptive --fixed-width --start-features "$start"
run "fixed-$width" --variant adaptive --fixed-width --start-features "$width"
run "plain-$width" --code "$width" --code-activation sigmoid

echo "| $order stream, start $start, lr $lr, seed $seed | features | gradient updates | test BCE |"
echo "|---|---|---|---|"
for name in adaptive "fixed-$start" "fixed-$width" "plain-$width"; do
  python3 - "$base/$name" "$name" "$start" <<'PY'
import csv, json, os, sys
d, name, start = sys.argv[1], sys.argv[2], sys.argv[3]
m = json.load(open(f"{d}/metrics.json"))
log = f"{d}/adaptive.csv"
if os.path.exists(log):
    last = list(csv.DictReader(open(log)))[-1]
    width, updates = last["width"], last["updates"]
else:  # a plain model: one update per stream batch, no pool
    width, updates = json.load(open(f"{d}/config.json"))["model"]["code"], "one per batch"
label = {"adaptive": f"adaptive, from {start}"}.get(name, name.replace("fixed-", "fixed-width control, ").replace("plain-", "plain DAE (no pool), "))
print(f"| {label} | {width} | {updates} | {m['test_bce']:.4f} |")
PY
done
