#!/usr/bin/env bash
# The main job on real sample videos, on a fresh Debian 12 machine: installs what is missing,
# builds, fetches the samples (Debian packages that ship real videos) and runs the pipeline.
#
#   scripts/demo.sh [OUTDIR]      (default: ./demo-out)
#
# The pipeline grows with the project: today it probes every sample video, computes dense flow for
# all of them (flowgen), their trajectory targets, MOFO boxes and MGM maps (trajgen), and draws the
# flow, then pretrains a tiny masked video model with MME's recipe (trajectory + HOG targets) on them.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "${1:-$repo/demo-out}" && cd "${1:-$repo/demo-out}" && pwd)
# A demo always starts from scratch (flowgen would otherwise resume into the old output).
rm -rf "$out/flow" "$out/targets" "$out/pictures" "$out/pretrain" "$out/probe.h5" "$out/probe.h5.report.json"
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
build/release/common/mme-probe -q --list "$samples/list.txt" --root "$samples" --out "$out/probe.h5" --mv
probe_rc=$?
set -e
if [[ $probe_rc -ne 0 && $probe_rc -ne 3 ]]; then exit $probe_rc; fi

step "flowgen: dense flow (DIS fast) + JPEG frames + codec motion for every sample video"
start=$(date +%s%N)
set +e
build/release/flowgen/flowgen --list "$samples/list.txt" --root "$samples" --out "$out/flow" --mv
flow_rc=$?
set -e
if [[ $flow_rc -ne 0 && $flow_rc -ne 3 ]]; then exit $flow_rc; fi
seconds=$(awk -v a="$start" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
build/release/flowgen/flowgen -q merge "$out/flow"

step "trajgen: trajectories (L=4, one seed per 8x8 cell), MOFO boxes, MGM motion maps"
set +e
build/release/trajgen/trajgen --flow "$out/flow" --out "$out/targets"
traj_rc=$?
set -e
if [[ $traj_rc -ne 0 && $traj_rc -ne 3 ]]; then exit $traj_rc; fi
build/release/trajgen/trajgen -q merge "$out/targets"

step "Pictures: colour-coded flow, frame|flow strips, trajectories and MOFO boxes"
mkdir -p "$out/pictures"
for video in opencv-doc/cup.mp4 opencv-doc/vtest.avi python3-mecavideo/balle-jbart.mp4; do
  build/release/flowgen/flowgen viz "$out/flow" --video "$video" --out "$out/pictures" --max-flow 8 >/dev/null
  build/release/trajgen/trajgen viz "$out/targets" --flow "$out/flow" --video "$video" \
    --out "$out/pictures/$(echo "$video" | tr '/' '_')-trajectories.png" >/dev/null
done

step "trainer: tiny ViT, MME recipe (tube mask 0.7, trajectory + HOG targets), 60 steps on CPU"
build/release/trainer/trainer pretrain model_preset=tiny recipe=mme data.flow_dir="$out/flow" \
  data.target_dir="$out/targets" run.out="$out/pretrain" optim.batch=4 optim.base_lr=0.05 \
  optim.epochs=20 optim.warmup_epochs=2 run.max_steps=60 run.log_every=10
/usr/bin/python3 scripts/plot-metrics.py "$out/pretrain" >/dev/null
cp "$out/pretrain/metrics.png" "$out/pictures/loss-curves.png"
build/release/trainer/trainer -q masks model_preset=vit-b data.flow_dir="$out/flow" data.target_dir="$out/targets" \
  data.list="$samples/list.txt" mask.ratio=0.75 --out "$out/pictures/masks.png" >/dev/null

step "Summary"
manifests=("$out"/flow/shard-*/manifest.jsonl)
pairs=$(cat "${manifests[@]}" | grep -o '"pairs":[0-9]*' | cut -d: -f2 | awk '{ s += $1 } END { print s + 0 }')
videos=$(cat "${manifests[@]}" | grep -c '"status":"ok"' || true)
failed=$(cat "${manifests[@]}" | grep -c '"status":"failed"' || true)
bytes=$(du -cb "$out"/flow/shard-*/part-*.h5 | tail -1 | cut -f1)
awk -v v="$videos" -v f="$failed" -v p="$pairs" -v s="$seconds" -v b="$bytes" 'BEGIN {
  print "| videos | failed | flow pairs | seconds | pairs/s | shard bytes per pair (flow + JPEG frame) |"
  print "|---|---|---|---|---|---|"
  printf "| %d | %d | %d | %.1f | %.0f | %.0f |\n", v, f, p, s, p / s, b / p }'
echo
echo "outputs in $out:"
echo "  flow/          flow shards, manifest, index.json (docs/formats.md; HDF5_PLUGIN_PATH=$repo/build/release/common/plugin for h5py)"
echo "  targets/       trajectory targets, MOFO boxes, MGM motion maps (docs/formats.md)"
echo "  pictures/      colour-coded flow, frame|flow strips, trajectories with MOFO boxes, one clip under"
echo "                 the tube, MGM, MOFO and random masks (masks.png), the loss curves (PNG)"
echo "  pretrain/      checkpoint.pt, metrics.jsonl and metrics.png of the tiny pretraining run"
echo "  probe.h5       stream facts of every sample video"
