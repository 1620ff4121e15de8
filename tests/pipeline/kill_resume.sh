#!/usr/bin/env bash
# SIGKILL at 20 random moments of a flowgen, a trajgen and a trainer run, each kill followed by the
# same command again; the run that finally completes must equal an uninterrupted one (flowgen and
# trajgen: every dataset; the trainer: every logged loss and every weight). The moments come from a
# seeded generator, printed, so a failure can be replayed with the same SEED.
#   kill_resume.sh BUILD_DIR SAMPLES_DIR PYTHON [SEED]
set -euo pipefail
build=$1 samples=$2 python=$3 seed=${4:-19}
kills=${MME_KILLS:-20}
export HDF5_PLUGIN_PATH=$build/common/plugin
work=$(mktemp -d /tmp/mme-kill.XXXXXX)
trap '[[ -n "${KEEP:-}" ]] || rm -rf "$work"' EXIT
RANDOM=$seed
echo "kill_resume.sh: seed $seed, $kills kills per tool"

source "$(dirname "$0")/sample_set.sh"

# run_killed NAME SECONDS COMMAND...: $kills times, start COMMAND and SIGKILL it after a random
# moment in (0, SECONDS); then run it to the end.
run_killed() {
  local name=$1 span=$2
  shift 2
  local moments=()
  for ((k = 0; k < kills; ++k)); do
    local ms=$((1 + RANDOM % (span * 1000)))
    moments+=("$ms")
    "$@" >>"$work/$name.log" 2>&1 &
    local pid=$!
    sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  echo "$name: killed at ${moments[*]} ms"
  "$@"
}

"${flowgen[@]}" --out "$work/ref-flow"
start=$(date +%s%N)
"${trajgen[@]}" --flow "$work/ref-flow" --out "$work/ref-traj"
traj_ms=$((($(date +%s%N) - start) / 1000000))

run_killed flowgen 2 "${flowgen[@]}" --out "$work/flow"
run_killed trajgen 1 "${trajgen[@]}" --flow "$work/ref-flow" --out "$work/traj"
echo "(an uninterrupted trajgen run took $traj_ms ms)"
for dir in flow traj; do
  left=$(find "$work/$dir" -name '*.tmp-*' | wc -l)
  [[ $left -eq 0 ]] || { echo "kill_resume.sh: $left temporaries left in $dir after the final run" >&2; exit 1; }
done
"$python" "$same_datasets" "$work/ref-flow" "$work/flow" "$work/ref-traj" "$work/traj"

trainer=("$build/trainer/trainer" -q pretrain model_preset=tiny recipe=mme data.flow_dir="$work/ref-flow"
  data.target_dir="$work/ref-traj" optim.batch=2 optim.epochs=6 optim.warmup_epochs=1 run.checkpoint_every=1)
"${trainer[@]}" run.out="$work/ref-run"
run_killed trainer 3 "${trainer[@]}" run.out="$work/run"
left=$(find "$work/run" -name '*.tmp-*' | wc -l)
[[ $left -eq 0 ]] || { echo "kill_resume.sh: $left temporaries left in the run directory" >&2; exit 1; }
for run in ref-run run; do
  "$build/trainer/trainer" export "$work/$run/checkpoint.pt" --out "$work/$run.pth" >/dev/null
done
"$python" - "$work" <<'EOF'
import json, sys, torch
w = sys.argv[1]
a, b = ([json.loads(l)["loss"] for l in open(f"{w}/{r}/metrics.jsonl")] for r in ("ref-run", "run"))
assert a == b, (a, b)
x, y = (torch.load(f"{w}/{r}.pth")["model"] for r in ("ref-run", "run"))
assert x.keys() == y.keys()
assert all(torch.equal(x[k], y[k]) for k in x), [k for k in x if not torch.equal(x[k], y[k])]
print(f"trainer: {len(a)} losses and {len(x)} tensors equal to the uninterrupted run's")
EOF
echo "kill_resume.sh: $((3 * kills)) kills, every run resumed to the uninterrupted result"
