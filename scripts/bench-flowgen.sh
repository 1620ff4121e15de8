#!/usr/bin/env bash
# Reruns the flowgen benchmark on the real sample videos and rewrites its section of
# docs/benchmarks.md (between the flowgen:begin and flowgen:end markers). Needs a release build (cmake --preset release && cmake --build
# --preset release). Takes about 10 minutes on 2 cores.
#   scripts/bench-flowgen.sh [SAMPLES_DIR]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
samples=${1:-$("$repo/scripts/fetch-samples.sh")}
bench="$repo/build/release/flowgen/flowgen-bench"
[[ -x "$bench" ]] || { echo "build first: cmake --preset release && cmake --build --preset release" >&2; exit 1; }
# Farneback and TV-L1 are 10-200x slower than DIS: they run on the three shortest samples.
slow=$(mktemp)
printf '%s\n' python3-mecavideo/g1.avi python3-mecavideo/g2.avi python3-imageio/realshort.mp4 >"$slow"
out=$(mktemp)
{
  echo "Samples: every video of fetch-samples.sh's list.txt (DIS), g1.avi + g2.avi + realshort.mp4 (Farneback, TV-L1);"
  echo "working size: short side 256 (340x256 on 4:3 video)."
  echo
  "$bench" --list "$samples/list.txt" --root "$samples" --slow-list "$slow" --short-side 256 --threads 1,2
  echo
  # The peer from the same run: the cv2 loop people write (scripts/flow_cv2.py), on four real
  # videos (1,299 pairs) for DIS and on the three short ones for TV-L1.
  four=$(mktemp)
  printf '%s\n' opencv-doc/cup.mp4 opencv-doc/vtest.avi python3-imageio/realshort.mp4 \
    python3-mecavideo/balle-jbart.mp4 >"$four"
  "$repo/scripts/bench-peer.py" --flowgen "$repo/build/release/flowgen/flowgen" --list "$four" --root "$samples" \
    --algo dis-fast --short-side 256
  echo
  "$repo/scripts/bench-peer.py" --flowgen "$repo/build/release/flowgen/flowgen" --list "$slow" --root "$samples" \
    --algo tvl1 --short-side 256 --rounds 1
  rm -f "$four"
} >"$out"
# Replace the section between the markers.
"$repo/scripts/update-benchmark-section.sh" flowgen "$out"
rm -f "$slow" "$out"
