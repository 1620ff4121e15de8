#!/usr/bin/env bash
# Reruns the trainer benchmark and rewrites its section of docs/benchmarks.md (between the
# trainer:begin and trainer:end markers). Needs a release build. On a machine with CUDA it
# measures ANCHORS.md's figure (ViT-B, VideoMAE recipe, batch 32 and 64, bf16, clips on the GPU);
# on CPU the tiny and ViT-S presets at small batches. The loader row reads real shards made from
# the sample videos (flowgen + trajgen defaults).
# The data-parallel section (trainer-ranks) times the trainer itself on those shards: the same global
# batch on 1 rank and on 2 ranks over Gloo (with the all-reduce overlapped with backward and
# without), alternating, three rounds in one run.
#   scripts/bench-trainer.sh [SAMPLES_DIR]
#   scripts/bench-trainer.sh --ranks-only [SAMPLES_DIR]   # only the data-parallel section
set -euo pipefail
ranks_only=0
[[ "${1:-}" == "--ranks-only" ]] && { ranks_only=1; shift; }
repo=$(cd "$(dirname "$0")/.." && pwd)
samples=${1:-$("$repo/scripts/fetch-samples.sh")}
build="$repo/build/release"
[[ -x "$build/trainer/trainer-bench" ]] || { echo "build first: cmake --preset release && cmake --build --preset release" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bench="$build/trainer/trainer-bench"
out="$work/table.md"
"$build/flowgen/flowgen" -q --list "$samples/list.txt" --root "$samples" --out "$work/flow"
"$build/trajgen/trajgen" -q --flow "$work/flow" --out "$work/traj"

# One data-parallel configuration for 8 steps: prints "clips/s allreduce-share" over steps 3-8.
run_ranks() {
  local world=$1 batch=$2 threads=$3 overlap=$4 out=$5
  local settings=(pretrain model_preset=vit-s model.img_size=112 model.frames=8 recipe=videomae
    "data.flow_dir=$work/flow" data.repeats=4 run.max_steps=8 run.checkpoint_every=1000 data.workers=1
    "optim.batch=$batch" "run.threads=$threads" "run.overlap=$overlap" "run.out=$out")
  local port=$((29700 + RANDOM % 1000)) pids=()
  for ((r = 0; r < world; r++)); do
    if ((world > 1)); then
      RANK=$r WORLD_SIZE=$world MASTER_ADDR=127.0.0.1 MASTER_PORT=$port "$build/trainer/trainer" -q "${settings[@]}" &
    else
      "$build/trainer/trainer" -q "${settings[@]}" &
    fi
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  python3 - "$out/metrics.jsonl" <<'PY'
import json, statistics, sys
lines = [json.loads(l) for l in open(sys.argv[1])][2:]
print(statistics.median(l["clips_per_s"] for l in lines), statistics.mean(l["allreduce_wait"] for l in lines))
PY
}

ranks_table() {
  echo
  echo "Data-parallel training on CPU (Gloo): ViT-S at 112 px, 8 frames, VideoMAE recipe, global batch 8 on"
  echo "the real shards, the machine's 2 cores split between the ranks (1 rank x 2 torch threads or 2 ranks x"
  echo "1), 8 steps, median over steps 3-8; three rounds, alternating, in one run:"
  echo
  echo "| configuration | clips/s per round | median | vs 1 rank | all-reduce wait (share of the step) |"
  echo "|---|---|---|---|---|"
  declare -A rate share
  local configs=("1 8 2 true" "2 4 1 true" "2 4 1 false")
  for round in 1 2 3; do
    for c in "${configs[@]}"; do
      read -r w b t o <<<"$c"
      read -r cps wait < <(run_ranks "$w" "$b" "$t" "$o" "$work/ranks-$round-${c// /-}")
      rate[$c]+="$cps "
      share[$c]+="$wait "
    done
  done
  local base
  base=$(python3 -c 'import statistics,sys; print(statistics.median(map(float, sys.argv[1:])))' ${rate["1 8 2 true"]})
  for c in "${configs[@]}"; do
    read -r w b t o <<<"$c"
    local name="$w rank(s) x batch $b, $t torch thread(s)"
    ((w > 1)) && name+=", overlap $o"
    python3 - "$name" "$base" ${rate[$c]} -- ${share[$c]} <<'PY'
import statistics, sys
name, base = sys.argv[1], float(sys.argv[2])
rest = sys.argv[3:]
cut = rest.index("--")
rates, shares = list(map(float, rest[:cut])), list(map(float, rest[cut + 1:]))
m = statistics.median(rates)
print(f"| {name} | {' / '.join(f'{r:.1f}' for r in rates)} | {m:.1f} | {m / base:.2f}x | "
      f"{100 * statistics.mean(shares):.0f}% |")
PY
  done
}

if ((ranks_only)); then
  ranks_table >"$out"
  "$repo/scripts/update-benchmark-section.sh" trainer-ranks "$out"
  exit 0
fi
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
    "$bench" --presets tiny --batches 8 --device cpu --steps 10 --warmup 2 run.threads=2 | tail -n +3 | sed 's/| scaled_dot_product |/| scaled_dot_product, 2 torch threads |/'
    "$bench" --presets vit-s --batches 2 --device cpu --steps 2 --warmup 1 | tail -n +3
  fi
  echo
  echo "The loader alone (read JPEG frames and trajectory chunks, decode, crop, resize, mask), ViT-B input:"
  echo
  "$bench" --what loader --presets vit-b --recipe mme --batches 8 --steps 20 --warmup 2 --workers 1,2 \
    data.flow_dir="$work/flow" data.target_dir="$work/traj"
} >"$out"
"$repo/scripts/update-benchmark-section.sh" trainer "$out"
ranks_table >"$work/ranks.md"
"$repo/scripts/update-benchmark-section.sh" trainer-ranks "$work/ranks.md"
