#!/usr/bin/env bash
# mme-probe over a list that mixes good, damaged and bad inputs: exit code 3, a report naming
# every failure and its reason, and the good videos in the shard.
set -euo pipefail
probe=$1 samples=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
cp "$samples/python3-imageio/realshort.mp4" "$work/good.mp4"
echo "not a video" >"$work/notes.mp4"
: >"$work/empty.mp4"
head -c 50000 "$samples/python3-mecavideo/balle-jbart.mp4" >"$work/cut.mp4"
cat >"$work/list.txt" <<LIST
good.mp4 0
notes.mp4 1
empty.mp4 1
missing.mp4 1
cut.mp4 1
$samples/opencv-doc/box.mp4 2
LIST
set +e
"$probe" -q --list "$work/list.txt" --root "$work" --out "$work/probe.h5" 2>"$work/stderr.txt"
rc=$?
set -e
[[ $rc -eq 3 ]] || { echo "expected exit code 3, got $rc"; cat "$work/stderr.txt"; exit 1; }
/usr/bin/python3 - "$work" <<'PY'
import h5py, json, sys
work = sys.argv[1]
report = {r["id"]: r for r in json.load(open(f"{work}/probe.h5.report.json"))}
assert report["good.mp4"]["ok"] and report["good.mp4"]["frames"] == 36, report["good.mp4"]
assert "Invalid data" in report["notes.mp4"]["reason"], report["notes.mp4"]
assert "empty file" in report["empty.mp4"]["reason"], report["empty.mp4"]
assert "no such file" in report["missing.mp4"]["reason"], report["missing.mp4"]
assert not report["cut.mp4"]["ok"], report["cut.mp4"]
box = [r for k, r in report.items() if k.endswith("box.mp4")][0]
assert box["ok"] and box["warnings"], box
with h5py.File(f"{work}/probe.h5") as f:
    ids = sorted(g.attrs["id"] for g in f["videos"].values())
    assert len(ids) == 2 and "good.mp4" in ids, ids
    assert f["videos"]["good.mp4"]["thumbnail"].shape == (96, 128, 3)
print("probe_bad_inputs: ok")
PY
