#!/usr/bin/env bash
# A damaged or missing part is one part's problem, and the documented repair converges
# (docs/reliability.md, "Repairing a damaged set"): with one flow part cut by 10% and another
# deleted, mme-verify names both (exit 3); trajgen does the other videos and records the two as
# failed, naming their parts (exit 3); the trainer trains on the rest and lists the two in
# skipped.json; targets made before the damage are refused naming the videos that are gone. Then a
# flowgen re-run moves the cut part aside (*.damaged) and redoes both videos (exit 0), mme-verify
# exits 0, trajgen exits 0 on the new and on the old target set, and the trainer skips nothing.
# Last, a bit flipped in a frames chunk: the trainer warns once, naming the chunk and the checksum.
#   damaged_set.sh BUILD_DIR SAMPLES_DIR PYTHON
set -euo pipefail
build=$(cd "$1" && pwd) samples=$2 python=$3
export HDF5_PLUGIN_PATH=$build/common/plugin
work=$(mktemp -d /tmp/mme-damaged.XXXXXX)
trap '[[ -n "${KEEP:-}" ]] || rm -rf "$work"' EXIT
source "$(dirname "$0")/sample_set.sh"
fail() { echo "damaged_set.sh: $*" >&2; exit 1; }
expect_rc() {  # expect_rc RC LOG COMMAND...: runs COMMAND, its output into LOG, and checks its exit code
  local want=$1 log=$2 rc=0
  shift 2
  "$@" >"$log" 2>&1 || rc=$?
  cat "$log"
  [[ $rc -eq $want ]] || fail "$(basename "$1") exited $rc, not $want"
}
trainer=("$build/trainer/trainer" -q pretrain model_preset=tiny optim.batch=2 run.max_steps=1)

"${flowgen[@]}" --out "$work/flow"
"${trajgen[@]}" --flow "$work/flow" --out "$work/traj-before"
shard=$work/flow/shard-00000-of-00001
parts=("$shard"/part-*.h5)
((${#parts[@]} == 4)) || fail "expected 4 flow parts, found ${#parts[@]}"
cut=${parts[1]} gone=${parts[2]}
truncate -s $(($(stat -c %s "$cut") * 9 / 10)) "$cut"
rm "$gone"

echo "== the damaged set"
expect_rc 3 "$work/verify1.log" "$build/common/mme-verify" -q "$work/flow"
grep -q "$(basename "$gone")" "$work/verify1.log" || fail "mme-verify did not name the deleted part"
expect_rc 3 "$work/traj.log" "${trajgen[@]}" --flow "$work/flow" --out "$work/traj"
for p in "$cut" "$gone"; do
  grep -q "$(basename "$p")" "$work/traj.log" || fail "trajgen did not name $(basename "$p")"
done
failed=$(grep -c '"status":"failed"' "$work"/traj/shard-*/manifest.jsonl)
ok=$(grep -c '"status":"ok"' "$work"/traj/shard-*/manifest.jsonl)
[[ $failed -eq 2 && $ok -eq 2 ]] || fail "trajgen's manifest: $ok ok and $failed failed, not 2 and 2"
"$build/common/mme-verify" -q "$work/traj" || fail "mme-verify exited $? on trajgen's output"

"${trainer[@]}" recipe=videomae data.flow_dir="$work/flow" run.out="$work/run-pixels" ||
  fail "the pixel-recipe trainer exited $? on the damaged set"
"$python" - "$work/run-pixels/skipped.json" "$(basename "$cut")" "$(basename "$gone")" <<'PY' || fail "skipped.json"
import json, sys
skipped, cut, gone = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
reasons = " | ".join(skipped.values())
assert len(skipped) == 2 and cut in reasons and gone in reasons and "is missing" in reasons, skipped
print("skipped.json:", skipped)
PY
expect_rc 1 "$work/mme-before.log" "${trainer[@]}" recipe=mme data.flow_dir="$work/flow" \
  data.target_dir="$work/traj-before" run.out="$work/run-mme-before"
grep -q "not in data.flow_dir now: 2 video(s)" "$work/mme-before.log" ||
  fail "the refusal of targets made before the damage does not name the 2 videos that are gone"

echo "== the repair"
loud=()
for arg in "${flowgen[@]}"; do [[ $arg == -q ]] || loud+=("$arg"); done  # its warnings are checked
expect_rc 0 "$work/repair.log" "${loud[@]}" --out "$work/flow"
[[ -f $cut.damaged ]] || fail "the cut part was not moved aside as $(basename "$cut").damaged"
grep -q "moved aside" "$work/repair.log" || fail "flowgen did not say that it moved the cut part aside"
grep -q "$(basename "$gone"): missing; its 1 video(s) will be done again" "$work/repair.log" ||
  fail "flowgen did not name the deleted part and its video"
"$build/common/mme-verify" -q "$work/flow" || fail "mme-verify exited $? after the repair"
"${trajgen[@]}" --flow "$work/flow" --out "$work/traj" || fail "trajgen exited $? after the repair"
"${trajgen[@]}" --flow "$work/flow" --out "$work/traj-before" || fail "trajgen exited $? on the older targets"
"$build/common/mme-verify" -q "$work/traj" || fail "mme-verify exited $? on the repaired targets"
"$python" "$same_datasets" "$work/traj-before" "$work/traj" || fail "the repaired targets differ from the ones made before the damage"
"${trainer[@]}" recipe=mme data.flow_dir="$work/flow" data.target_dir="$work/traj-before" run.out="$work/run-mme" ||
  fail "the MME trainer exited $? after the repair"
[[ $(cat "$work/run-mme/skipped.json") == "{}" ]] || fail "skipped after the repair: $(cat "$work/run-mme/skipped.json")"

echo "== a damaged frame chunk"
"$python" - "$work/flow" <<'PY'
import glob, sys
import h5py
part = sorted(glob.glob(sys.argv[1] + "/shard-*/part-*.h5"))[0]
with h5py.File(part) as f:
    frames = next(iter(f["videos"].values()))["frames"]
    info = frames.id.get_chunk_info(0)
with open(part, "r+b") as out:  # one bit flipped in the middle of the first frames chunk
    out.seek(info.byte_offset + info.size // 2)
    byte = out.read(1)[0]
    out.seek(-1, 1)
    out.write(bytes([byte ^ 0x10]))
PY
"$build/trainer/trainer" pretrain model_preset=tiny optim.batch=2 run.max_steps=8 recipe=videomae \
  data.flow_dir="$work/flow" run.out="$work/run-frames" >"$work/frames.log" 2>&1 || fail "the trainer exited $? on a damaged frame chunk"
grep "warning" "$work/frames.log" || true
[[ $(grep -c "frames chunk 0: .*Fletcher32 checksum (frame " "$work/frames.log") -eq 1 ]] ||
  fail "not one warning naming the frames chunk and the checksum"
grep -q "can't read data" "$work/frames.log" && fail "HDF5's nested text is in the warning"
echo "damaged_set.sh: ok"
