#!/usr/bin/env bash
# The prepared GPU check: one command on the GPU machine (one H200, 16 cores, no network, no
# OpenCV/FFmpeg/TBB; PyTorch 2.11 cu130), at most 8 minutes. It
#   1. builds the trainer-only preset against that machine's PyTorch,
#   2. runs the trainer's unit tests,
#   2b. measures the LibTorch Dual TV-L1 (flowgen --algo tvl1-gpu) at 340x256: pairs/s per batch
#      size and its end-point error against OpenCV's CPU TV-L1 fields stored beside the frames
#      (tvl1-bench: LibTorch, HDF5 and libjpeg only),
#   3. times ViT-B training steps with bf16, VideoMAE and MME recipes, batch 32 and 64, clips on the
#      GPU (ANCHORS.md's definition: clips/s of training steps, peak memory), and in the same run the
#      same step in PyTorch (scripts/gpu/videomae_step.py: eager and torch.compile),
#   4. trains end to end from real shards carried over (loader workers = cores - 2), as one process
#      and as a 1-rank NCCL run started by torchrun.
# Prepare the shards here first (real sample videos through flowgen and trajgen, at most 64 MiB):
#   scripts/gpu-check.sh --prepare            # -> build-gpu-data/
# then on the GPU machine, from the repository root, carrying build-gpu-data:
#   scripts/gpu-check.sh                      # tables on stdout and in $OUT/gpu-check.md if OUT is set
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
data=${MME_GPU_DATA:-$repo/build-gpu-data}
cd "$repo"

if [[ "${1:-}" == "--prepare" ]]; then
  build=$repo/build/release
  [[ -x $build/flowgen/flowgen ]] || { echo "build first: cmake --preset release && cmake --build --preset release" >&2; exit 1; }
  samples=$("$repo/scripts/fetch-samples.sh")
  rm -rf "$data" && mkdir -p "$data"
  grep -E '^(opencv-doc/(cup.mp4|vtest.avi)|python3-imageio/(realshort|cockatoo).mp4|python3-mecavideo/balle-jbart.mp4) ' \
    "$samples/list.txt" | awk '{print $1, NR % 3}' >"$data/list.txt"
  # Short side 224: ViT-B input size, and the set fits the 64 MiB a device call carries.
  "$build/flowgen/flowgen" -q --short-side 224 --list "$data/list.txt" --root "$samples" --out "$data/flow"
  "$build/trajgen/trajgen" -q --flow "$data/flow" --out "$data/traj"
  # OpenCV's CPU TV-L1 at short side 256 (340x256 on 4:3 video) on three short clips (65 pairs,
  # about a minute here): the reference tvl1-bench measures the GPU TV-L1 against.
  grep -E '^python3-(imageio/realshort.mp4|mecavideo/g[12].avi) ' "$samples/list.txt" >"$data/tvl1-list.txt"
  "$build/flowgen/flowgen" -q --short-side 256 --algo tvl1 --list "$data/tvl1-list.txt" --root "$samples" \
    --out "$data/flow-tvl1"
  size=$(du -sm "$data" | cut -f1)
  echo "gpu-check: $(wc -l <"$data/list.txt") videos, ${size} MiB in $data"
  ((size <= 64)) || { echo "gpu-check: $data is over 64 MiB" >&2; exit 1; }
  exit 0
fi

report=${OUT:-/tmp}/gpu-check.md
: >"$report"
say() { echo "$@" | tee -a "$report"; }
section() { say; say "## $*"; say; }
start=$(date +%s)
elapsed() { echo "$(($(date +%s) - start)) s"; }

section "Machine"
say "$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | head -1), $(nproc) cores"
say "$(python3 -c 'import torch; print("PyTorch", torch.__version__, "CUDA", torch.version.cuda)')"

section "Build (trainer-only preset) ($(elapsed))"
python=$(command -v python3)
if command -v ninja >/dev/null; then
  cmake --preset trainer-only -DMME_PYTHON="$python" -DTORCH_CUDA_ARCH_LIST=9.0 >/tmp/gpu-configure.log 2>&1 ||
    { tail -30 /tmp/gpu-configure.log; exit 1; }
  build=$repo/build/trainer-only
else  # the same settings as the preset, with make
  build=$repo/build/trainer-only-make
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DMME_BUILD_VIDEO=OFF -DMME_PYTHON="$python" \
    -DTORCH_CUDA_ARCH_LIST=9.0 >/tmp/gpu-configure.log 2>&1 || { tail -30 /tmp/gpu-configure.log; exit 1; }
fi
grep -E "LibTorch|c10d" /tmp/gpu-configure.log | tee -a "$report"
cmake --build "$build" -j "$(nproc)" >/tmp/gpu-build.log 2>&1 || { grep -E "error|Error" /tmp/gpu-build.log | head -30; exit 1; }
say "built in $(elapsed)"

section "Unit tests ($(elapsed))"
ctest --test-dir "$build" -j 8 --timeout 120 2>&1 | tail -3 | tee -a "$report"

section "Dense TV-L1 on the GPU ($(elapsed))"
# Goal: 1,000 pairs/s at 340x256 at TV-L1's accuracy (published GPU TV-L1: ~17-30 pairs/s per process).
timeout 180 "$build/flowgen/gpu/tvl1-bench" --flow "$data/flow-tvl1" --device cuda --batch 1,16,64,256 \
  --pairs 512 2>&1 | tee -a "$report" || say "tvl1-bench failed or timed out"

section "Training steps, clips already on the GPU ($(elapsed))"
bench=$build/trainer/trainer-bench
{
  "$bench" --presets vit-b --batches 32,64 --device cuda --steps 20 --warmup 5
  "$bench" --presets vit-b --batches 32,64 --device cuda --steps 20 --warmup 5 --recipe mme | tail -n +3
} 2>&1 | tee -a "$report"
say
timeout 240 python3 scripts/gpu/videomae_step.py --batches 32,64 --compile 2>&1 | grep -v Warning | tee -a "$report" || true

section "End to end from real shards ($(elapsed))"
workers=$(($(nproc) > 3 ? $(nproc) - 2 : 1))
trainer=$build/trainer/trainer
e2e() {  # e2e NAME [launcher...] -- settings...
  local name=$1 run=/tmp/gpu-run-$1
  shift
  rm -rf "$run"
  timeout 150 "$@" "run.out=$run" >"$run.log" 2>&1 || { say "| $name | failed: $(grep -m1 error "$run.log") |"; return; }
  python3 - "$name" "$run/metrics.jsonl" <<'PY' | tee -a "$report"
import json, statistics, sys
lines = [json.loads(l) for l in open(sys.argv[2])][10:]
rate = statistics.median(l["clips_per_s"] for l in lines)
wait = statistics.mean(l["data_wait"] for l in lines)
print(f"| {sys.argv[1]} | {rate:.1f} | {100 * wait:.0f}% |")
PY
  grep -m1 "rank 0 of" "$run.log" | tee -a "$report" || true
}
common=(model_preset=vit-b "data.flow_dir=$data/flow" "data.target_dir=$data/traj" data.repeats=16
  "data.workers=$workers" data.prefetch=8 run.max_steps=40 run.checkpoint_every=1000 run.device=cuda)
say "| run | clips/s (median, steps 11-40) | waiting for data |"
say "|---|---|---|"
e2e videomae-b32 "$trainer" pretrain "${common[@]}" recipe=videomae optim.batch=32
e2e mme-b32 "$trainer" pretrain "${common[@]}" recipe=mme optim.batch=32
e2e videomae-b32-torchrun-nccl torchrun --no-python --standalone --nproc-per-node=1 "$trainer" pretrain \
  "${common[@]}" recipe=videomae optim.batch=32
say
say "gpu-check: done in $(elapsed)"
