#!/usr/bin/env bash
# Write errors injected at random writes (tests/support/enospc_shim.c, LD_PRELOAD): flowgen, trajgen
# and the trainer are each run 10 times with the disk failing after a seeded random number of
# writes, in turn ENOSPC (full), EDQUOT (quota) and EIO (a failing disk or NFS server). Each run must
# stop with exit code 1 and one line naming the error ("No space left on device ...", no crash, no
# HDF5 stack) and leave no temporary behind; then the same command without the fault must finish,
# pass mme-verify and equal an uninterrupted run.
#   enospc_inject.sh BUILD_DIR SAMPLES_DIR PYTHON SHIM [SEED]
set -euo pipefail
build=$1 samples=$2 python=$3 shim=$4 seed=${5:-23}
faults=${MME_FAULTS:-10}
export HDF5_PLUGIN_PATH=$build/common/plugin
work=$(mktemp -d /tmp/mme-enospc.XXXXXX)
trap '[[ -n "${KEEP:-}" ]] || rm -rf "$work"' EXIT
RANDOM=$seed
echo "enospc_inject.sh: seed $seed, $faults faults per tool"
fail() {
  echo "enospc_inject.sh: $*" >&2
  exit 1
}

source "$(dirname "$0")/sample_set.sh"
errnos=(ENOSPC EDQUOT EIO)
texts=("No space left on device" "Disk quota exceeded" "Input/output error")

# faulty NAME OUT COMMAND...: counts COMMAND's writes on a fresh output, then runs it $faults times
# failing after a random number of them, then once without faults.
faulty() {
  local name=$1 out=$2
  shift 2
  MME_ENOSPC_COUNT="$work/$name.count" LD_PRELOAD=$shim "$@" >/dev/null 2>&1 || true
  rm -rf "$out"
  local total moments=() said="" left
  total=$(cat "$work/$name.count")
  for ((k = 0; k < faults; ++k)); do
    local n=$(((RANDOM * 32768 + RANDOM) % total))
    moments+=("$n")
    local rc=0
    rm -f "$work/mark"
    # Every other run starts afresh (the fault meets a full run); the others resume the last one.
    ((k % 2 == 0)) && rm -rf "$out"
    local errno=${errnos[k % 3]} text=${texts[k % 3]}
    MME_FAULT_ERRNO=$errno MME_ENOSPC_AFTER=$n MME_ENOSPC_MARK="$work/mark" LD_PRELOAD=$shim "$@" \
      >"$work/$name.log" 2>&1 || rc=$?
    # A run resumed from the earlier ones may finish before write n: then it must succeed.
    if [[ ! -e "$work/mark" ]]; then
      [[ $rc -eq 0 ]] || fail "$name exited $rc without meeting the fault"
      moments+=("(finished first)")
      continue
    fi
    if [[ $rc -ne 1 ]] || ! grep -q "$text" "$work/$name.log" ||
      grep -q "errno = \|time = \|terminate called\|Segmentation" "$work/$name.log"; then
      cat "$work/$name.log"
      fail "$name with $errno after write $n of $total: exit $rc, not one clean line and 1"
    fi
    # Nothing half-made stays behind (a part's temporary created just before the disk filled).
    local left
    left=$(find "$out" -name '*.tmp-*' | wc -l)
    [[ $left -eq 0 ]] || fail "$name with $errno after write $n left $left temporaries: $(find "$out" -name '*.tmp-*')"
    said=$(head -1 "$work/$name.log")
  done
  echo "$name: $total writes; ENOSPC/EDQUOT/EIO in turn after ${moments[*]}; each stopped with exit 1, e.g. $said"
  "$@"
  left=$(find "$out" -name '*.tmp-*' | wc -l)
  [[ $left -eq 0 ]] || fail "$name left $left temporaries"
}

"${flowgen[@]}" --out "$work/ref-flow"
"${trajgen[@]}" --flow "$work/ref-flow" --out "$work/ref-traj"
faulty flowgen "$work/flow" "${flowgen[@]}" --out "$work/flow"
faulty trajgen "$work/traj" "${trajgen[@]}" --flow "$work/ref-flow" --out "$work/traj"
"$build/common/mme-verify" "$work/flow"
"$build/common/mme-verify" "$work/traj"
"$python" "$same_datasets" "$work/ref-flow" "$work/flow" "$work/ref-traj" "$work/traj"

trainer=("$build/trainer/trainer" -q pretrain model_preset=tiny recipe=mme data.flow_dir="$work/ref-flow"
  data.target_dir="$work/ref-traj" optim.batch=2 optim.epochs=4 optim.warmup_epochs=1 run.checkpoint_every=2)
"${trainer[@]}" run.out="$work/ref-run"
faulty trainer "$work/run" "${trainer[@]}" run.out="$work/run"
"$python" - "$work/ref-run/metrics.jsonl" "$work/run/metrics.jsonl" <<'PY'
import json, sys
a, b = ([json.loads(l)["loss"] for l in open(p)] for p in sys.argv[1:])
assert a == b, (a, b)
print(f"trainer: {len(a)} losses equal to the uninterrupted run's")
PY
echo "enospc_inject.sh: $((3 * faults)) injected write errors, each stopped cleanly and resumed"
