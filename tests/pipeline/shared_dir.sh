#!/usr/bin/env bash
# One output directory, several runs (issue 30, docs/reliability.md "Shared output directories"):
# - a second flowgen on a shard in use (another list, the same --out) stops at once with exit 1,
#   naming the holder, and writes nothing; the first finishes; run again later, the second adds its
#   videos to the set (the manifest keeps every list's videos, and says so) and mme-verify finds
#   nothing wrong;
# - the tasks of one array (--shard 0/2 and 1/2) run side by side into one directory;
# - a second trainer on a run.out in use stops with exit 1 naming the holder; a torn last line of
#   metrics.jsonl (a kill mid-write) is dropped on resume.
#   shared_dir.sh BUILD_DIR SAMPLES_DIR PYTHON
set -euo pipefail
build=$1 samples=$2 python=$3
export HDF5_PLUGIN_PATH=$build/common/plugin
work=$(mktemp -d /tmp/mme-shared.XXXXXX)
trap '[[ -n "${KEEP:-}" ]] || rm -rf "$work"; jobs -p | xargs -r kill -9 2>/dev/null || true' EXIT
source "$(dirname "$0")/sample_set.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)
fail() { echo "shared_dir.sh: $*" >&2; exit 1; }

# wait_for_lock FILE PID: until FILE names a holder (the run has started writing), at most 60 s.
wait_for_lock() {
  for ((i = 0; i < 600; ++i)); do
    [[ -s $1 ]] && return 0
    kill -0 "$2" 2>/dev/null || fail "the first run ended before it took $1"
    sleep 0.1
  done
  fail "no lock in $1 after 60 s"
}

echo "== two flowgen runs, two lists, one shard"
other=$work/other.txt
printf 'opencv-doc/tree.avi 0\nopencv-doc/cup.mp4 0\n' >"$other"
"$build/flowgen/flowgen" -q --list "$list" --root "$samples" --threads 1 --part-videos 1 --short-side 128 \
  --out "$work/flow" >"$work/first.log" 2>&1 &
first=$!
wait_for_lock "$work/flow/shard-00000-of-00001/.lock" $first
start=$(date +%s%N)
rc=0
"$build/flowgen/flowgen" --list "$other" --root "$samples" --threads 1 --part-videos 1 --short-side 128 \
  --out "$work/flow" >"$work/second.log" 2>&1 || rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
cat "$work/second.log"
[[ $rc -eq 1 ]] || fail "the second flowgen exited $rc, not 1"
grep -q "shard-00000-of-00001: in use by flowgen, pid $first on " "$work/second.log" ||
  fail "the second flowgen did not name the holder (pid $first)"
((ms < 10000)) || fail "the second flowgen took $ms ms to stop"
kill -0 $first 2>/dev/null || fail "the first flowgen was no longer running when the second stopped (make it slower)"
ls -a "$work/flow/shard-00000-of-00001" | grep "\.tmp-" | grep -v -- "-$first\." && fail "the second flowgen left a temporary"
wait $first || fail "the first flowgen exited $? ($(cat "$work/first.log"))"
grep -q "tree.avi" "$work/flow/shard-00000-of-00001/manifest.jsonl" && fail "the refused run's video is in the manifest"
# Later, the same command again: its videos join the set.
"$build/flowgen/flowgen" --list "$other" --root "$samples" --threads 1 --part-videos 1 --short-side 128 \
  --out "$work/flow" >"$work/again.log" 2>&1 || fail "the second list's re-run exited $? ($(cat "$work/again.log"))"
cat "$work/again.log"
grep -q "3 videos of this shard's directory are not in this list: kept" "$work/again.log" ||
  fail "the re-run did not say that the first list's videos stay"
n=$(grep -c '"status":"ok"' "$work/flow/shard-00000-of-00001/manifest.jsonl")
[[ $n -eq 5 ]] || fail "the manifest holds $n finished videos, not 5 (4 + tree.avi)"
"$build/common/mme-verify" -q "$work/flow" || fail "mme-verify exited $? on the shared directory"

echo "== an array's two tasks side by side"
for s in 0 1; do
  "${flowgen[@]}" --shard $s/2 --out "$work/array" >"$work/array-$s.log" 2>&1 &
done
for s in 0 1; do wait -n || fail "an array task failed: $(cat "$work"/array-*.log)"; done
"$build/common/mme-verify" -q "$work/array" || fail "mme-verify exited $? on the array's directory"
n=$(cat "$work"/array/shard-*/manifest.jsonl | grep -c '"status":"ok"')
[[ $n -eq 4 ]] || fail "the array's shards hold $n videos, not 4"

echo "== two trainer runs, one run.out"
"${trajgen[@]}" --flow "$work/array" --out "$work/traj"
trainer=("$build/trainer/trainer" pretrain model_preset=tiny recipe=mme data.flow_dir="$work/array"
  data.target_dir="$work/traj" optim.batch=2 optim.epochs=1000 run.checkpoint_every=2 run.log_every=1)
"${trainer[@]}" -q run.out="$work/run" >"$work/train1.log" 2>&1 &
first=$!
wait_for_lock "$work/run/.lock" $first
rc=0
"${trainer[@]}" run.out="$work/run" >"$work/train2.log" 2>&1 || rc=$?
cat "$work/train2.log"
[[ $rc -eq 1 ]] || fail "the second trainer exited $rc, not 1"
grep -q "run: in use by trainer pretrain, pid $first on " "$work/train2.log" ||
  fail "the second trainer did not name the holder (pid $first)"
# Let the first one log a few steps, then stop it (SIGTERM: a checkpoint, exit 130).
for ((i = 0; i < 600; ++i)); do
  [[ -f $work/run/checkpoint.pt ]] && break
  sleep 0.1
done
kill -TERM $first
rc=0
wait $first || rc=$?
[[ $rc -eq 130 ]] || fail "the first trainer exited $rc after SIGTERM, not 130 ($(tail -3 "$work/train1.log"))"
printf '{"step": 999999, "epoch": 0.5, "lo' >>"$work/run/metrics.jsonl"  # a line cut by a kill
steps=$(grep -c . "$work/run/metrics.jsonl")
"${trainer[@]}" -q run.out="$work/run" run.max_steps=$((steps + 2)) || fail "the resumed trainer exited $?"
"$python" - "$work/run/metrics.jsonl" <<'PY' || fail "metrics.jsonl is not one run's lines"
import json, sys
steps = [json.loads(line)["step"] for line in open(sys.argv[1])]
assert steps == sorted(set(steps)), steps
print(f"metrics.jsonl: {len(steps)} whole lines, steps {steps[0]}..{steps[-1]}")
PY
"$python" "$repo/scripts/plot-metrics.py" "$work/run" || fail "plot-metrics failed on the resumed run"
echo "shared_dir.sh: ok"
