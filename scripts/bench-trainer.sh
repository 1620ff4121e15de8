#!/usr/bin/env bash
# Reruns the trainer benchmark and rewrites its section of docs/benchmarks.md (between the
# trainer:begin and trainer:end markers). Needs a release build. On a machine with CUDA it
# measures ANCHORS.md's figure (ViT-B, VideoMAE recipe, batch 32 and 64, bf16, clips on the GPU);
# on CPU the tiny and ViT-S presets at small batches. The loader row reads real shards made from
# the sample videos (flowgen + trajgen defaults).
#   scripts/bench-trainer.sh [SAMPLES_DIR]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
samples=${1:-$("$repo/scripts/fetch-samples.sh")}
build="$repo/build/release"
[[ -x "$build/trainer/trainer-bench" ]] || { echo "build first: cmake --preset release && cmake --build --preset release" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bench="$build/trainer/trainer-bench"
out="$work/table.md"
{
  echo
  echo "Training steps on clips already on the device (forward, targets, backward, AdamW):"
  echo
  if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
    "$bench" --presets vit-b --batches 32,64 --device cuda --steps 20 --warmup 5
    "$bench" --presets vit-b --batches 32 --device cuda --steps 20 --warmup 5 --recipe mme | tail -n +3
    "$bench" --presets vit-s --batches 64 --device cuda --steps 20 --warmup 5 | tail -n +3
  else
    "$bench" --presets tiny --batches 2,8 --device cpu --steps 10 --warmup 2
    "$bench" --presets tiny --batches 8 --device cpu --steps 10 --warmup 2 --recipe mme | tail -n +3
    "$bench" --presets tiny --batches 8 --device cpu --steps 10 --warmup 2 run.threads=2 | tail -n +3 | sed 's/| plain |/| plain, 2 torch threads |/'
    "$bench" --presets vit-s --batches 2 --device cpu --steps 2 --warmup 1 | tail -n +3
  fi
  echo
  echo "The loader alone (read JPEG frames and trajectory chunks, decode, crop, resize, mask), ViT-B input:"
  echo
  "$build/flowgen/flowgen" -q --list "$samples/list.txt" --root "$samples" --out "$work/flow"
  "$build/trajgen/trajgen" -q --flow "$work/flow" --out "$work/traj"
  "$bench" --what loader --presets vit-b --recipe mme --batches 8 --steps 20 --warmup 2 --workers 1,2 \
    data.flow_dir="$work/flow" data.target_dir="$work/traj"
} >"$out"
"$repo/scripts/update-benchmark-section.sh" trainer "$out"
