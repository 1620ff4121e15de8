#!/usr/bin/env bash
# The main job on real sample videos, on a fresh Debian 12 machine: installs what is missing,
# builds, fetches the samples (Debian packages that ship real videos) and runs the whole pipeline.
#
#   scripts/demo.sh [--skip-setup] [--small] [OUTDIR]      (default OUTDIR: ./demo-out)
#
#   --skip-setup  no package installation and no build: use the binaries in $MME_BUILD_DIR
#                 (default build/release); the samples are still fetched (or found in the cache)
#   --small       3 of the sample videos instead of all (the end-to-end test)
#
# Pipeline: probe every sample video; dense flow (flowgen), trajectory targets, MOFO boxes and MGM
# maps (trajgen) and pictures of them; a labelled set of camera pans in four directions cut from
# the same real footage (scripts/make-motion-set.py), train and test clips from different
# videos; a tiny ViT pretrained with MME's recipe on the train clips, and with VideoMAE's pixel
# recipe at the same budget; a linear probe of each frozen encoder (and of an untrained one)
# tested on the held-out videos; the masks of every strategy over a clip, the loss curves, and a
# summary table (OUTDIR/summary.json too).
set -euo pipefail
setup=1 small=0 out_arg=""
for arg in "$@"; do
  case $arg in
    --skip-setup) setup=0 ;;
    --small) small=1 ;;
    -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "demo.sh: unknown option $arg (see --help)" >&2; exit 2 ;;
    *) out_arg=$arg ;;
  esac
done
repo=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "${out_arg:-$repo/demo-out}" && cd "${out_arg:-$repo/demo-out}" && pwd)
build=$(cd "${MME_BUILD_DIR:-$repo/build/release}" 2>/dev/null && pwd || echo "${MME_BUILD_DIR:-$repo/build/release}")
# A demo always starts from scratch (flowgen would otherwise resume into the old output).
rm -rf "$out"/{flow,targets,pictures,directions,pretrain,pretrain-pixels,probe,probe-pixels,probe-untrained,probe.h5,probe.h5.report.json,summary.json}
cd "$repo"

step() { printf '\n== %s\n' "$*" >&2; }
# flowgen/trajgen/probe exit 3 when some inputs failed (each named in the log): the demo goes on.
tolerate_failures() {
  local rc=0
  "$@" || rc=$?
  if [[ $rc -ne 0 && $rc -ne 3 ]]; then exit $rc; fi
}

if ((setup)); then
  step "Installing dependencies (Debian packages)"
  scripts/install-deps.sh
  step "Building (release: the tools the demo runs; the tests build with the second README command)"
  cmake --preset release >/dev/null
  cmake --build --preset release -j"$(nproc)" --target mme-probe flowgen trajgen trainer h5z_mme_loco
fi
for tool in common/mme-probe flowgen/flowgen trajgen/trajgen trainer/trainer; do
  [[ -x "$build/$tool" ]] || { echo "demo.sh: $build/$tool is missing: build first (or drop --skip-setup)" >&2; exit 1; }
done
step "Fetching real sample videos"
samples=$(scripts/fetch-samples.sh)
echo "samples: $samples" >&2
list=$samples/list.txt
if ((small)); then
  list=$out/samples-small.txt
  grep -E '^(opencv-doc/cup.mp4|opencv-doc/vtest.avi|python3-mecavideo/balle-jbart.mp4) ' "$samples/list.txt" >"$list"
fi

step "Probing every sample video (decode, stream facts, motion vectors)"
tolerate_failures "$build/common/mme-probe" -q --list "$list" --root "$samples" --out "$out/probe.h5" --mv

step "flowgen: dense flow (DIS fast) + JPEG frames + codec motion for every sample video"
start=$(date +%s%N)
tolerate_failures "$build/flowgen/flowgen" --list "$list" --root "$samples" --out "$out/flow" --mv
flow_seconds=$(awk -v a="$start" -v b="$(date +%s%N)" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
"$build/flowgen/flowgen" -q merge "$out/flow"

step "trajgen: trajectories (L=4, one seed per 8x8 cell), MOFO boxes, MGM motion maps"
tolerate_failures "$build/trajgen/trajgen" --flow "$out/flow" --out "$out/targets"
"$build/trajgen/trajgen" -q merge "$out/targets"

step "Pictures: colour-coded flow, frame|flow strips, trajectories and MOFO boxes"
mkdir -p "$out/pictures"
for video in opencv-doc/cup.mp4 opencv-doc/vtest.avi python3-mecavideo/balle-jbart.mp4; do
  "$build/flowgen/flowgen" viz "$out/flow" --video "$video" --out "$out/pictures" --max-flow 8 >/dev/null
  "$build/trajgen/trajgen" viz "$out/targets" --flow "$out/flow" --video "$video" \
    --out "$out/pictures/$(echo "$video" | tr '/' '_')-trajectories.png" >/dev/null
done
"$build/trainer/trainer" -q masks model_preset=vit-b data.flow_dir="$out/flow" data.target_dir="$out/targets" \
  data.list="$list" mask.ratio=0.75 --out "$out/pictures/masks.png" >/dev/null

step "A labelled set from the same footage: camera pans left / right / up / down (train and test videos differ)"
dirs=$out/directions
/usr/bin/python3 scripts/make-motion-set.py "$samples" "$dirs" --families pan --places 10 >/dev/null
cat "$dirs/train.txt" "$dirs/test.txt" >"$dirs/all.txt"
"$build/flowgen/flowgen" -q --list "$dirs/all.txt" --root "$dirs" --out "$dirs/flow"
"$build/trajgen/trajgen" -q --flow "$dirs/flow" --out "$dirs/targets"

# The tiny model learns motion within minutes on 2 cores with these settings (docs/usage.md,
# "The demo's training settings"): raw trajectories (/20 px) because a pan is a common translation,
# which the paper's per-patch normalisation removes on purpose; mask ratio 0.5; ~840 steps of 16
# clips whatever the set's size; sampling stride 2 (the clips are 32 frames long).
train_clips=$(wc -l <"$dirs/train.txt")
epochs=$(((840 * 16 + train_clips - 1) / train_clips))
data=(data.flow_dir="$dirs/flow" data.stride=2)
pretrain=(model_preset=tiny "${data[@]}" data.target_dir="$dirs/targets" data.list="$dirs/train.txt" mask.ratio=0.5
  optim.batch=16 optim.base_lr=0.016 optim.epochs="$epochs" optim.warmup_epochs=5 run.log_every=40)
step "trainer pretrain: tiny ViT, MME recipe (trajectory + HOG targets), $epochs epochs of $train_clips clips on CPU"
"$build/trainer/trainer" pretrain recipe=mme trajectory.norm=raw20 "${pretrain[@]}" run.out="$out/pretrain"
/usr/bin/python3 scripts/plot-metrics.py "$out/pretrain" >/dev/null
cp "$out/pretrain/metrics.png" "$out/pictures/loss-curves.png"
# The baseline at the same budget: VideoMAE's pixel target (scripts/ablate.sh compares every recipe).
step "trainer pretrain: the same tiny ViT, VideoMAE recipe (normalised pixels), same steps and clips"
"$build/trainer/trainer" -q pretrain recipe=videomae "${pretrain[@]}" run.out="$out/pretrain-pixels"

# A linear head on the frozen encoder; no flips (a mirrored clip would change its label).
probe_epochs=$(((400 * 16 + train_clips - 1) / train_clips))  # ~400 steps
probe=(model_preset=tiny "${data[@]}" data.flip=false optim.batch=16 optim.base_lr=1.0 optim.epochs="$probe_epochs" run.log_every=1000)
for run in probe probe-pixels probe-untrained; do
  case $run in
    probe) init=$out/pretrain/checkpoint.pt which="MME-pretrained" ;;
    probe-pixels) init=$out/pretrain-pixels/checkpoint.pt which="pixel-pretrained" ;;
    probe-untrained) init="" which=untrained ;;
  esac
  step "trainer $run: linear probe of the $which encoder, tested on the held-out videos"
  "$build/trainer/trainer" probe "${probe[@]}" finetune.init="$init" data.list="$dirs/train.txt" run.out="$out/$run"
  "$build/trainer/trainer" -q eval "${data[@]}" data.list="$dirs/test.txt" run.out="$out/$run" >/dev/null
done

step "Summary"
/usr/bin/python3 scripts/demo-summary.py "$out" --flow-seconds "$flow_seconds"
echo
echo "outputs in $out:"
echo "  pictures/      colour-coded flow, frame|flow strips, trajectories with MOFO boxes, one clip under"
echo "                 the tube, MGM, MOFO and random masks (masks.png), the loss curves (loss-curves.png)"
echo "  flow/          flow shards, manifest, index.json (docs/formats.md; HDF5_PLUGIN_PATH=$build/common/plugin for h5py)"
echo "  targets/       trajectory targets, MOFO boxes, MGM motion maps (docs/formats.md)"
echo "  directions/    the labelled pan clips (train.txt, test.txt) with their flow and targets"
echo "  pretrain/      checkpoint.pt, metrics.jsonl and metrics.png of the tiny MME pretraining"
echo "  probe/         the linear probe of the pretrained encoder: eval.json, confusion.csv"
echo "  pretrain-pixels/, probe-pixels/  the same with VideoMAE's pixel target, at the same budget"
echo "  probe-untrained/  the same probe on an untrained encoder, for comparison"
echo "  probe.h5       stream facts of every sample video; summary.json: the table above"
