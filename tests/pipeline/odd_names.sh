#!/usr/bin/env bash
# File names that are not UTF-8 (Latin-1 "café", as HMDB51 and old Kinetics downloads have them),
# with spaces, quotes and a leading dash, and an 80 KB path, through every tool: flowgen's manifest and index, trajgen,
# mme-verify, the trainer; ids come back as the exact bytes (JSON: \udcXX, Python's
# surrogateescape), and a failing video's reason names the list and its line.
#   odd_names.sh BUILD_DIR SAMPLES_DIR PYTHON
set -euo pipefail
build=$(cd "$1" && pwd) samples=$2 python=$3
export HDF5_PLUGIN_PATH=$build/common/plugin
work=$(mktemp -d /tmp/mme-names.XXXXXX)
trap '[[ -n "${KEEP:-}" ]] || rm -rf "$work"' EXIT
fail() { echo "odd_names.sh: $*" >&2; exit 1; }
cd "$work"
mkdir -p "$(printf 'd\xe9j\xe0')"
cp "$samples/python3-imageio/realshort.mp4" "$(printf 'caf\xe9.mp4')"
cp "$samples/opencv-doc/cup.mp4" "$(printf 'd\xe9j\xe0/na\xefve \x27quoted\x27.mp4')"
cp "$samples/python3-imageio/realshort.mp4" -- "-dash \"x\" $(printf '\xff').mp4"
printf 'caf\xe9.mp4 0\nd\xe9j\xe0/na\xefve \x27quoted\x27.mp4 1\n-dash "x" \xff.mp4 0\nmissing \xe9.mp4 1\n' >list.txt

rc=0
"$build/flowgen/flowgen" -q --list list.txt --root . --out flow --short-side 96 --part-videos 2 2>flowgen.err || rc=$?
cat flowgen.err
[[ $rc -eq 3 ]] || fail "flowgen exited $rc, not 3 (one missing video)"
grep -q "list.txt, line 4" flowgen.err || fail "the missing video's error does not name list.txt, line 4"
"$build/flowgen/flowgen" merge flow >/dev/null
"$build/common/mme-verify" -q flow || fail "mme-verify exited $? on the flow set"
"$build/trajgen/trajgen" -q --flow flow --out traj || fail "trajgen exited $?"
"$build/common/mme-verify" -q traj || fail "mme-verify exited $? on the target set"
"$python" - <<'PY' || fail "the ids did not come back as the listed bytes"
import glob, json, os
import h5py
listed = [line.rsplit(b" ", 1)[0] for line in open("list.txt", "rb").read().splitlines()]
index = json.load(open("flow/index.json"))
ok = sorted(os.fsencode(k) for k in index["videos"])
assert ok == sorted(listed[:3]), ok
assert [os.fsencode(k) for k in index["failed"]] == [listed[3]], index["failed"]
ids = []
for part in glob.glob("traj/shard-*/part-*.h5"):
    with h5py.File(part) as f:
        ids += [os.fsencode(g.attrs["id"]) for g in f["videos"].values()]
assert sorted(ids) == ok, ids
manifest = [json.loads(line) for line in open(glob.glob("flow/shard-*/manifest.jsonl")[0], encoding="utf-8")]
assert sorted(os.fsencode(r["id"]) for r in manifest) == sorted(listed), manifest
print("ids round-trip:", [i.decode("utf-8", "backslashreplace") for i in ok])
PY
"$build/trainer/trainer" -q pretrain model_preset=tiny recipe=mme data.flow_dir=flow data.target_dir=traj \
  optim.batch=2 run.max_steps=2 run.out="run $(printf '\xe9')" || fail "the trainer exited $?"
[[ $(cat "run $(printf '\xe9')/skipped.json") == "{}" ]] || fail "the trainer skipped videos: $(cat "run $(printf '\xe9')/skipped.json")"

# An 80 KB path (the list format allows it): one readable log line, the whole id in the manifest.
long=$("$python" -c 'print("/".join(["d" * 200] * 400) + "/x.mp4")')
printf '%s 0\n' "$long" >long.txt
rc=0
"$build/flowgen/flowgen" -q --list long.txt --root . --out flow-long 2>long.err || rc=$?
[[ $rc -eq 3 ]] || fail "flowgen exited $rc on the long path, not 3"
(($(wc -c <long.err) < 4000)) || fail "the long path's error is $(wc -c <long.err) bytes long on the terminal"
grep -q "bytes left out" long.err || fail "the shortened line does not say that bytes were left out"
grep -qF "$long" flow-long/shard-00000-of-00001/manifest.jsonl || fail "the manifest does not keep the whole id"
echo "odd_names.sh: ok"
