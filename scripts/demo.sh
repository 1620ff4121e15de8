#!/usr/bin/env bash
# The main job on real sample videos, on a fresh Debian 12 machine: installs what is missing,
# builds, fetches the samples (Debian packages that ship real videos) and runs the pipeline.
#
#   scripts/demo.sh [OUTDIR]      (default: ./demo-out)
#
# The pipeline grows with the project: today it decodes every sample video and writes a probe
# shard (stream facts, per-frame timestamps and motion-vector flags, thumbnails); flowgen, trajgen
# and the trainer join as they land.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "${1:-$repo/demo-out}" && cd "${1:-$repo/demo-out}" && pwd)
cd "$repo"

step() { printf '\n== %s\n' "$*" >&2; }

step "Installing dependencies (Debian packages)"
scripts/install-deps.sh
step "Building (release)"
cmake --preset release >/dev/null
cmake --build --preset release -j"$(nproc)"
step "Fetching real sample videos"
samples=$(scripts/fetch-samples.sh)
echo "samples: $samples" >&2

step "Probing every sample video (decode, stream facts, motion vectors)"
set +e
build/release/common/mme-probe --list "$samples/list.txt" --root "$samples" --out "$out/probe.h5" --mv
rc=$?
set -e
if [[ $rc -ne 0 && $rc -ne 3 ]]; then exit $rc; fi

step "Done"
echo "outputs in $out: probe.h5 (HDF5, see docs/formats.md), probe.h5.report.json" >&2
exit $rc
