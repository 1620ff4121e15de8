#!/usr/bin/env bash
# Builds the libFuzzer targets (preset fuzz: clang, ASan + UBSan) and runs each for SECONDS,
# seeded with real data: chunks and frames of a flow and a target set, the sample dataset lists,
# the trainer's settings, a manifest and the sets' own settings files. A crash (or leak, or
# sanitizer report) fails the run and leaves its input in build/fuzz/crashes/<target>/ (replay:
# build/fuzz/tests/fuzz/fuzz_<target> FILE). The ctest fuzz_smoke runs 20 s per target; longer
# runs find more (docs/reliability.md).
#   scripts/fuzz.sh [SECONDS] [FLOW_DIR TRAJ_DIR]   (default 60 s each; the sets: the tests' shards)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
release=${MME_BUILD_DIR:-$repo/build/release}  # its trainer and plugin make seeds
flow=${2:-$release/tests/trainer-shards/real-flow}
traj=${3:-$release/tests/trainer-shards/real-traj}
python=${MME_PYTHON:-$repo/.venv/bin/python}
samples=${MME_SAMPLES_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mme/samples}
if ! command -v clang++ >/dev/null; then
  echo "fuzz.sh: clang++ is not installed (scripts/install-deps.sh installs it): skipped"
  exit 77
fi
cd "$repo"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz
work=build/fuzz/corpus
rm -rf "$work" build/fuzz/crashes
mkdir -p "$work"/{loco,jpeg,dataset_list,json,settings,checkpoint,safetensors}

# Seeds from real files.
export HDF5_PLUGIN_PATH=$release/common/plugin
"$python" - "$flow" "$traj" "$work" <<'PY'
import glob, os, struct, sys
import h5py
flow, traj, out = sys.argv[1:]
n = 0
for root, name in ((flow, "flow"), (traj, "traj")):
    for part in sorted(glob.glob(os.path.join(root, "shard-*", "part-*.h5")))[:1]:
        with h5py.File(part, "r") as f:
            for vid in list(f["videos"])[:3]:
                g = f["videos"][vid]
                if name not in g:
                    continue
                ds = g[name]
                cd = ds.id.get_create_plist().get_filter_by_id(313)[1]
                rows, cols, channels, coder = cd[1], cd[2], cd[3], cd[4]
                for i in range(0, ds.shape[0], max(1, ds.shape[0] // 4)):
                    _, chunk = ds.id.read_direct_chunk((i,) + (0,) * (ds.ndim - 1))
                    head = struct.pack("<BHHB", coder, (rows - 1) % 256, (cols - 1) % 256, (channels - 1) % 4)
                    open(os.path.join(out, "loco", f"{name}-{n}"), "wb").write(head + chunk)
                    n += 1
                if name == "flow" and "frames" in g:
                    offsets = g["frame_offsets"][:]
                    for k in range(min(4, len(offsets) - 1)):
                        open(os.path.join(out, "jpeg", f"frame-{n}-{k}.jpg"), "wb").write(
                            g["frames"][offsets[k]:offsets[k + 1]].tobytes())
print(f"fuzz.sh: {n} LOCO chunks as seeds")
PY
# Checkpoints laid out as training scripts save them (small tensors: the fuzzer mutates whole files).
"$python" - "$work/checkpoint" <<'PY'
import argparse, collections, os, sys, torch
out = sys.argv[1]
state = collections.OrderedDict((k, torch.randn(2, 3)) for k in ("blocks.0.attn.qkv.weight", "norm.bias"))
state["head.weight"] = torch.zeros(3, 2, dtype=torch.float16)
torch.save(state, os.path.join(out, "bare.pth"))
torch.save({"model": state, "epoch": 3, "args": argparse.Namespace(lr=1e-3, model="vit")}, os.path.join(out, "model.pth"))
torch.save({"module": {"module." + k: v for k, v in state.items()}, "optimizer": {"state": {0: {"step": torch.tensor(1.0)}}}},
           os.path.join(out, "module.pth"))
torch.save({"state_dict": {"x": torch.arange(6).reshape(2, 3)[:, 1:]}}, os.path.join(out, "view.pth"))
import safetensors.torch
safetensors.torch.save_file({k: v.contiguous() for k, v in state.items()},
                            os.path.join(out, "..", "safetensors", "model.safetensors"), metadata={"format": "pt"})
PY
cp "$samples"/*.txt "$work/dataset_list/" 2>/dev/null || printf 'a/b.mp4 3\n' >"$work/dataset_list/list.txt"
for preset in tiny vit-b; do
  "$release/trainer/trainer" pretrain model_preset=$preset recipe=mme --print-config >"$work/json/$preset.json"
done
head -3 "$flow"/shard-*/manifest.jsonl | grep '^{' | head -3 | while read -r line; do
  echo "$line" >"$work/json/manifest-$RANDOM.json"
done

# The settings files of the two sets, as the tools wrote them.
cp "$traj/config.json" "$work/settings/config.json"
cp "$flow/flowgen.json" "$work/settings/flowgen.json"

failed=0
# LibTorch's zip reader leaks when it refuses a malformed archive: PyTorch's, suppressed by name.
export LSAN_OPTIONS=suppressions=$repo/tests/fuzz/lsan.supp
targets=(loco jpeg dataset_list json settings)
[[ -x build/fuzz/tests/fuzz/fuzz_checkpoint ]] && targets+=(checkpoint safetensors)  # (need the torch wheel)
for target in "${targets[@]}"; do
  mkdir -p build/fuzz/crashes/$target
  echo "fuzz.sh: $target for ${seconds} s"
  if ! build/fuzz/tests/fuzz/fuzz_$target "$work/$target" -max_total_time="$seconds" -max_len=1048576 \
    -rss_limit_mb=4096 -seed=1 -artifact_prefix=build/fuzz/crashes/$target/ -print_final_stats=1 2>build/fuzz/$target.log; then
    echo "fuzz.sh: $target FAILED:" >&2
    tail -40 build/fuzz/$target.log >&2
    failed=1
  fi
  grep -E "^stat::number_of_executed_units" build/fuzz/$target.log || true
done
exit $failed
