#!/usr/bin/env bash
# A long series from ECG5000 for `--window`: the test split's 4,500 beats (140 points each)
# concatenated, one row per time point: `ecg` (the value) and `class` (its beat's class; 1 =
# normal). The file lists all normal beats first, so the beats are interleaved by a fixed
# permutation (beat i goes to position i·1237 mod 4500; 1237 is prime to 4500) — as anomalies
# would come in a recording, and so that the series' last 20 % (the test part) holds both.
# Not committed: made from $AUTOENCODERS_DATA.
#
#   scripts/ecg_series.sh OUT.csv
#   autoencoders train --dataset OUT.csv --columns ecg --label-column class --window 140 --stride 35 \
#       --normal-class 1 --model lstm --code 8 --epochs 20 --out runs/ecg-series
#   autoencoders eval runs/ecg-series     # test_point_auroc: per-time-point error, abnormal vs normal beats
set -euo pipefail
out=${1:?usage: scripts/ecg_series.sh OUT.csv}
src=${AUTOENCODERS_DATA:-datasets}/ecg5000/ECG5000_TEST.tsv
[ -f "$src" ] || { echo "no $src (set AUTOENCODERS_DATA to the shared datasets folder)" >&2; exit 1; }
awk -F'\t' '{ printf "%d\t%s\n", ((NR - 1) * 1237) % 4500, $0 }' "$src" | sort -n -k1,1 | cut -f2- |
    awk -F'\t' 'BEGIN { print "ecg,class" } { c = $1 + 0; for (i = 2; i <= NF; i++) printf "%s,%d\n", $i, c }' > "$out"
echo "wrote $out ($(($(wc -l < "$out") - 1)) time points)" >&2
