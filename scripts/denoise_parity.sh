#!/usr/bin/env bash
# Side by side: the conv denoising autoencoder on MNIST (Gaussian noise σ, clipped) trained
# for the same epochs by this crate (`autoencoders train --model conv --noise gaussian:σ`) and
# by PyTorch (`scripts/pytorch_denoise.py`, same architecture, data, optimiser, batch and seed
# policy), alternating seed by seed on the same machine. Prints each run, then the medians over
# the seeds of the denoised test PSNR, their difference, and the crate's 3×3 median-filter and
# noisy-input PSNR beside it. Needs AUTOENCODERS_DATA (MNIST) and `pip install torch numpy`.
#
#   scripts/denoise_parity.sh [seeds=3] [epochs=10] [sigma=0.5]
#   PROFILE=release scripts/denoise_parity.sh      # default: the `dev` profile (optimised)
#   BIN=path/to/autoencoders scripts/denoise_parity.sh   # a binary built elsewhere
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
need cargo "install Rust with rustup (https://rustup.rs)"
need_modules "pip install torch numpy (the PyTorch side of the comparison)" torch numpy
seeds=${1:-3} epochs=${2:-10} sigma=${3:-0.5} profile=${PROFILE:-dev}
: "${AUTOENCODERS_DATA:?set AUTOENCODERS_DATA to the datasets folder}"
dir=$([ "$profile" = dev ] && echo debug || echo "$profile")
bin=${BIN:-target/$dir/autoencoders}
[ -n "${BIN:-}" ] || cargo build --profile "$profile" --bin autoencoders >&2
log=$(mktemp) runs=$(mktemp -d)
for s in $(seq 0 $((seeds - 1))); do
  start=$(date +%s)
  "$bin" train --dataset mnist --model conv --code 32 --noise "gaussian:$sigma" --epochs "$epochs" \
    --batch-size 128 --val-split 0 --patience 0 --seed "$s" --quiet --out "$runs/s$s" >&2
  secs=$(( $(date +%s) - start ))
  "$bin" eval "$runs/s$s" 2>/dev/null | python3 -c "
import json, sys
m = json.load(sys.stdin)
print(json.dumps({'impl': 'autoencoders', 'seed': $s, 'epochs': $epochs, 'sigma': $sigma, 'psnr_noisy': m['test_psnr_input'],
                  'psnr_denoised': m['test_psnr'], 'psnr_median': m['test_psnr_median'], 'ssim_noisy': m['test_ssim_input'],
                  'ssim_denoised': m['test_ssim'], 'ssim_median': m['test_ssim_median'], 'seconds': $secs}))" | tee -a "$log"
  python3 scripts/pytorch_denoise.py --seed "$s" --epochs "$epochs" --sigma "$sigma" --threads 2 | tee -a "$log"
done
python3 - "$log" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
med = lambda who, k: statistics.median(r[k] for r in rows if r["impl"] == who)
ours, torch = med("autoencoders", "psnr_denoised"), med("pytorch", "psnr_denoised")
print(f"\n{len(rows) // 2} seeds, σ = {rows[0]['sigma']}, {rows[0]['epochs']} epochs; medians of the test PSNR (dB):")
print(f"  noisy input        {med('autoencoders', 'psnr_noisy'):7.2f}")
print(f"  3×3 median filter  {med('autoencoders', 'psnr_median'):7.2f}   (SSIM {med('autoencoders', 'ssim_median'):.3f})")
print(f"  autoencoders       {ours:7.2f}   (SSIM {med('autoencoders', 'ssim_denoised'):.3f})")
print(f"  pytorch            {torch:7.2f}")
print(f"  autoencoders − pytorch = {ours - torch:+.2f} dB; autoencoders − median filter = {ours - med('autoencoders', 'psnr_median'):+.2f} dB")
PY
