#!/usr/bin/env bash
# Reruns the trajgen benchmark on the real sample videos and rewrites its section of
# docs/benchmarks.md (between the trajgen:begin and trajgen:end markers). Needs a release build.
# Makes the flow first with flowgen's defaults (+ --mv), timing it for the trajgen/flowgen ratio.
#   scripts/bench-trajgen.sh [SAMPLES_DIR]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
samples=${1:-$("$repo/scripts/fetch-samples.sh")}
build="$repo/build/release"
[[ -x "$build/trajgen/trajgen-bench" ]] || { echo "build first: cmake --preset release && cmake --build --preset release" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# flowgen three times, the fastest counting (trajgen-bench takes the fastest of nine).
flowgen_seconds=
for run in 1 2 3; do
  rm -rf "$work/flow"
  start=$(date +%s%N)
  "$build/flowgen/flowgen" -q --list "$samples/list.txt" --root "$samples" --out "$work/flow" --mv
  seconds=$(awk -v a="$start" -v b="$(date +%s%N)" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
  flowgen_seconds=$(awk -v a="${flowgen_seconds:-$seconds}" -v b="$seconds" 'BEGIN { print (b < a ? b : a) }')
done
out="$work/table.md"
{
  echo "Flow: flowgen defaults (dis-fast, native size up to a short side of 320) + --mv on every sample video,"
  echo "${flowgen_seconds} s of flowgen wall time ($(nproc) threads, fastest of 3). trajgen: defaults (L = 4, C = 8,"
  echo "bilinear). trajgen and the read-only pass ran alternately 9 times: every time below is the fastest"
  echo "of 9; the speed ratio is given as that of the fastest runs and as the median of the 9 neighbouring"
  echo "pairs' ratios (this machine is noisy)."
  echo
  "$build/trajgen/trajgen-bench" --flow "$work/flow" --flowgen-seconds "$flowgen_seconds" --threads 1,2 --work "$work/t"
} >"$out"
"$repo/scripts/update-benchmark-section.sh" trajgen "$out"
