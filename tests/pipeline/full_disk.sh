#!/usr/bin/env bash
# Full disks: flowgen, trajgen and the trainer each write into a small tmpfs that fills up part way.
# Each must stop with exit code 1 and one line naming the reason, the operation and the file
# ("No space left on device writing .../part-00001.h5"), no crash, no temporary file left, what it
# had published intact; after the file system grows, the same command finishes the job and its
# output equals an uninterrupted run's (flowgen, trajgen: every dataset; trainer: every loss).
#   full_disk.sh BUILD_DIR SAMPLES_DIR PYTHON
# Needs root (mount -t tmpfs); exits 77 (skipped) where it cannot mount.
set -euo pipefail
build=$1 samples=$2 python=$3
export HDF5_PLUGIN_PATH=$build/common/plugin  # h5py reads the LOCO-coded flow through it
work=$(mktemp -d /tmp/mme-full-disk.XXXXXX)
mounts=()
cleanup() {
  for m in "${mounts[@]}"; do umount "$m" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

small() {  # small NAME SIZE: a tmpfs of SIZE at $work/NAME
  mkdir -p "$work/$1"
  if ! mount -t tmpfs -o "size=$2" tmpfs "$work/$1" 2>/dev/null; then
    echo "full_disk.sh: cannot mount a tmpfs here (needs root): skipped"
    exit 77
  fi
  mounts+=("$work/$1")
}
grow() { mount -o remount,size=256m "$work/$1"; }
fail() {
  echo "full_disk.sh: $*" >&2
  exit 1
}

# expect_full TOOL LOG RC: the run stopped as promised.
expect_full() {
  local tool=$1 log=$2 rc=$3 dir=$4
  echo "--- $tool on a full disk (exit $rc):"
  cat "$log"
  [[ $rc -eq 1 ]] || fail "$tool exited $rc on a full disk, not 1"
  grep -Eq "No space left on device (writing|creating|publishing) $dir/" "$log" ||
    fail "$tool did not say 'No space left on device writing <file>'"
  [[ $(grep -c "No space left on device" "$log") -eq 1 ]] || fail "$tool said it more than once"
  if grep -q "errno = \|H5D\|time = " "$log"; then fail "$tool printed HDF5's error stack"; fi
  # No progress line (a rate, an ETA) after the error: the run is over.
  if awk '/No space left on device/ {e = 1; next} e && /ETA|\/s|took/ {bad = 1} END {exit !bad}' "$log"; then
    fail "$tool printed a progress line after the fatal error"
  fi
  local temps
  temps=$(find "$dir" -name '*.tmp-*' | wc -l)
  [[ $temps -eq 0 ]] || fail "$tool left $temps temporary file(s): $(find "$dir" -name '*.tmp-*')"
}

source "$(dirname "$0")/sample_set.sh"

# Uninterrupted runs on the normal disk.
"${flowgen[@]}" --out "$work/ref-flow"
"${trajgen[@]}" --flow "$work/ref-flow" --out "$work/ref-traj"
flow_bytes=$(du -sb "$work/ref-flow" | cut -f1)
traj_bytes=$(du -sb "$work/ref-traj" | cut -f1)
echo "flow set: $flow_bytes bytes, target set: $traj_bytes bytes"

# flowgen: room for about half of its output.
small flow "$((flow_bytes / 2))"
set +e
loud=()
for arg in "${flowgen[@]}"; do [[ $arg == -q ]] || loud+=("$arg"); done  # with its progress line
"${loud[@]}" --out "$work/flow/out" >"$work/flowgen.log" 2>&1
rc=$?
set -e
expect_full flowgen "$work/flowgen.log" $rc "$work/flow/out"
published=$(find "$work/flow/out" -name 'part-*.h5' | wc -l)
echo "flowgen published $published part(s) before the disk filled"
grow flow
"${flowgen[@]}" --out "$work/flow/out"

# trajgen: the same with targets.
small traj "$((traj_bytes / 2))"
set +e
"${trajgen[@]}" --flow "$work/ref-flow" --out "$work/traj/out" >"$work/trajgen.log" 2>&1
rc=$?
set -e
expect_full trajgen "$work/trajgen.log" $rc "$work/traj/out"
grow traj
"${trajgen[@]}" --flow "$work/ref-flow" --out "$work/traj/out"

# The re-runs equal the uninterrupted runs, dataset for dataset.
"$python" "$same_datasets" "$work/ref-flow" "$work/flow/out" "$work/ref-traj" "$work/traj/out"

# The trainer: its checkpoint does not fit.
trainer=("$build/trainer/trainer" -q pretrain model_preset=tiny recipe=mme data.flow_dir="$work/ref-flow"
  data.target_dir="$work/ref-traj" optim.batch=2 optim.epochs=4 optim.warmup_epochs=1 run.checkpoint_every=2)
"${trainer[@]}" run.out="$work/ref-run"
small run 600k
set +e
"${trainer[@]}" run.out="$work/run/out" >"$work/trainer.log" 2>&1
rc=$?
set -e
expect_full trainer "$work/trainer.log" $rc "$work/run/out"
grep -q "checkpoint.pt" "$work/trainer.log" || fail "the trainer's line does not name the checkpoint"
grow run
"${trainer[@]}" run.out="$work/run/out"
"$python" - "$work/ref-run/metrics.jsonl" "$work/run/out/metrics.jsonl" <<'EOF'
import json, sys
a, b = ([json.loads(l)["loss"] for l in open(p)] for p in sys.argv[1:])
assert a == b, (a, b)
print(f"trainer: {len(a)} losses equal to the uninterrupted run's")
EOF
echo "full_disk.sh: every tool stopped cleanly on a full disk and finished after it grew"
