#!/usr/bin/env bash
# Reruns every benchmark and rewrites docs/benchmarks.md: the flowgen, trajgen and trainer sections
# (scripts/bench-*.sh), the demo's table (scripts/demo.sh --skip-setup on all sample videos), and
# the summary at the top (machine, date, commit, each part's wall time). Builds the release preset
# first when it is missing. About 10 minutes on 2 cores; compare only figures from one run.
#   scripts/bench-all.sh [SAMPLES_DIR]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
if [[ ! -x build/release/trainer/trainer-bench || ! -x build/release/flowgen/flowgen-bench ]]; then
  cmake --preset release >/dev/null && cmake --build --preset release
fi
samples=${1:-$(scripts/fetch-samples.sh)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

timed() {  # name command...: runs it, appends "| name | seconds |" to the summary rows
  local name=$1 start
  shift
  printf '\n== %s\n' "$name" >&2
  start=$(date +%s%N)
  "$@"
  awk -v n="$name" -v a="$start" -v b="$(date +%s%N)" 'BEGIN { printf "| %s | %.0f |\n", n, (b - a) / 1e9 }' >>"$work/rows"
}
timed "scripts/bench-flowgen.sh" scripts/bench-flowgen.sh "$samples"
timed "scripts/bench-trajgen.sh" scripts/bench-trajgen.sh "$samples"
timed "scripts/bench-trainer.sh" scripts/bench-trainer.sh "$samples"
timed "scripts/demo.sh --skip-setup" env MME_SAMPLES_DIR="$samples" scripts/demo.sh --skip-setup "$work/demo" >"$work/demo.log"
{
  echo "The pipeline on every sample video, then the tiny MME pretraining and the probes on the pan set:"
  echo
  grep -A2 '^| sample videos' "$work/demo.log"
} >"$work/demo.md"
scripts/update-benchmark-section.sh demo "$work/demo.md"
{
  echo "Last full run at $(date -u '+%H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with local changes)')."
  echo
  echo "| part | wall seconds |"
  echo "|---|---|"
  cat "$work/rows"
} >"$work/all.md"
scripts/update-benchmark-section.sh all "$work/all.md"
