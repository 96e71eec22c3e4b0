#!/usr/bin/env bash
# `autoencoders denoise` on a folder of noisy MNIST test digits: Gaussian noise of σ (clipped to
# [0, 1]) on the first N test images, written as PNGs by Python's standard library (no packages),
# then the folder denoised ROUNDS times. Prints wall and CPU seconds of each run and the median
# wall time. Needs AUTOENCODERS_DATA (MNIST) and a model directory trained on MNIST.
#
#   scripts/bench_denoise.sh MODEL_DIR [sigma=0.5] [rounds=3] [n=10000]
#   PROFILE=release scripts/bench_denoise.sh runs/mnist-dae   # the release build
#   AUTOENCODERS_BIN=path/to/autoencoders scripts/bench_denoise.sh runs/mnist-dae  # a built binary
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
need cargo "install Rust with rustup (https://rustup.rs)"
need_python
model=${1:?give a model directory trained on MNIST} sigma=${2:-0.5} rounds=${3:-3} n=${4:-10000}
: "${AUTOENCODERS_DATA:?set AUTOENCODERS_DATA to the datasets folder}"
profile=${PROFILE:-dev}
dir=$([ "$profile" = dev ] && echo debug || echo "$profile")
bin=${AUTOENCODERS_BIN:-}
if [ -z "$bin" ]; then
  cargo build --profile "$profile" --bin autoencoders >&2
  bin=target/$dir/autoencoders
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$AUTOENCODERS_DATA/mnist/t10k-images-idx3-ubyte.gz" "$work/noisy" "$sigma" "$n" <<'PY'
import gzip, os, random, struct, sys, zlib
src, out, sigma, n = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
raw = gzip.open(src).read()
count, h, w = struct.unpack(">III", raw[4:16])
os.makedirs(out)
rng = random.Random(0)
def png(pixels):
    rows = b"".join(b"\0" + bytes(pixels[y * w:(y + 1) * w]) for y in range(h))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) \
        + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
for i in range(min(n, count)):
    img = raw[16 + i * h * w:16 + (i + 1) * h * w]
    noisy = [round(255 * min(1.0, max(0.0, p / 255 + sigma * rng.gauss(0, 1)))) for p in img]
    open(os.path.join(out, f"{i:05}.png"), "wb").write(png(noisy))
PY
echo "$(ls "$work/noisy" | wc -l) noisy images (σ $sigma) in $work/noisy; $(grep -m1 'model name' /proc/cpuinfo)" >&2
# Bash's own `time`: wall, user and system seconds of each run.
TIMEFORMAT='%R %U %S'
walls=()
# A new output folder each round, all deleted at the end. On ext4, creating files within minutes
# of deleting thousands of others spends seconds of kernel time looking for free inodes that were
# not recently deleted (`perf`: `recently_deleted`, 47 % of one such run; 1.2 s or 7 s for the same
# command) — a cost of the disk's recent history, not of `denoise`. TMPDIR=/dev/shm (tmpfs)
# measures the program alone.
for r in $(seq "$rounds"); do
  t=$( { time "$bin" denoise "$model" --input "$work/noisy" -o "$work/clean$r" 2>/dev/null; } 2>&1 )
  read -r wall user sys <<<"$t"
  echo "round $r: $wall s wall, $user s user + $sys s system; $(ls "$work/clean$r" | wc -l) images written"
  walls+=("$wall")
done
python3 -c "import statistics, sys; print(f'median wall: {statistics.median(map(float, sys.argv[1:])):.2f} s')" "${walls[@]}"
