#!/usr/bin/env bash
# Issue 17's one command at its quick scale (scripts/ablate.sh --quick): each cell finishes, the
# labels match the measured flow (ablate.sh stops otherwise), the table, its JSON and its picture
# are written, the motion classes can be learnt (supervised training from scratch beats chance
# clearly, and so does the best pretrained recipe's fine-tuning), and a re-run skips every finished
# cell: no run is touched again and the table comes out the same. Which recipe wins is reported in
# docs/results.md, not asserted.
#
# CI runs two cells without pretraining, untrained and supervised (~6 minutes on 2 cores; the
# demo_small test checks that pretraining helps a probe). The ten recipes (15-25 minutes) with the
# pretrained-recipe check: MME_ABLATE_RECIPES=all tests/pipeline/ablate_quick.sh build/release OUT,
# or any comma-separated subset (docs/results.md).
# Usage: ablate_quick.sh BUILD_DIR OUT
set -euo pipefail
build=$1 out=$2
repo=$(cd "$(dirname "$0")/../.." && pwd)
python=${MME_PYTHON:-/usr/bin/python3}
recipes=${MME_ABLATE_RECIPES:-untrained,supervised}
[[ $recipes == all ]] && recipes=videomae,mme,trajectory,hog,mme-raw20,videomae-mofo,videomae-mgm,mme-mgm,untrained,supervised
rm -rf "$out"
MME_BUILD_DIR=$build "$repo/scripts/ablate.sh" --quick --recipes $recipes --skip-setup "$out"

status=0
for f in results.md results.json results.png set/classes.json; do
  [[ -s "$out/$f" ]] || { echo "ablate_quick: $out/$f is missing or empty" >&2; status=1; }
done
[[ -e "$out/data.done" ]] || { echo "ablate_quick: $out/data.done is missing" >&2; status=1; }
cp "$out/results.json" "$out/results.first.json"
touch -d '-1 second' "$out/results.first.json"  # anything the re-run writes is newer than this
start=$(date +%s)
MME_BUILD_DIR=$build "$repo/scripts/ablate.sh" --quick --recipes $recipes --skip-setup "$out" >/dev/null
echo "ablate_quick: the re-run took $(($(date +%s) - start)) s"
find "$out/runs" \( -name checkpoint.pt -o -name eval.json \) -newer "$out/results.first.json" >"$out/touched.txt"
if [[ -s $out/touched.txt ]]; then
  echo "ablate_quick: the re-run wrote again into finished runs:" >&2
  cat "$out/touched.txt" >&2
  status=1
fi

"$python" - "$out" "$recipes" <<'PY' || status=1
import json, os, sys
out, asked = sys.argv[1], sys.argv[2].split(",")
first = json.load(open(os.path.join(out, "results.first.json")))
again = json.load(open(os.path.join(out, "results.json")))
r = {row["recipe"]: row for row in again["recipes"]}
checks = [(sorted(r) == sorted(asked), f"the table holds the {len(asked)} recipes asked for ({', '.join(r)})")]
for name, row in r.items():
    checks.append((row["seeds"] == 1, f"{name}: one finished seed"))
    if row["seeds"]:
        checks.append((all(0 <= row[s]["mean"] <= 1 for s in ("probe", "finetune")), f"{name}: top-1 values in [0, 1]"))
for name in r:
    if name not in ("untrained", "supervised"):
        checks.append((bool(r[name].get("final_losses")), f"{name}: pretraining losses recorded"))
chance = again["chance"]
# 360 test clips: a chance-level top-1 has a standard deviation of 0.016 (10 classes). Measured over
# 3 seeds (docs/results.md): supervised 0.20-0.27, the best fine-tuned recipe 0.37-0.41.
sup = r["supervised"]["finetune"]["mean"]
checks.append((sup >= chance + 0.06, f"supervised from scratch {sup:.3f} beats chance {chance:.2f} by 0.06"))
pretrained = [row["finetune"]["mean"] for name, row in r.items() if name not in ("untrained", "supervised")]
if pretrained:
    best = max(pretrained)
    checks.append((best >= chance + 0.15, f"the best pretrained recipe's fine-tuning {best:.3f} beats chance by 0.15"))
else:
    print("(no pretrained recipe asked for: the best-recipe check is left to MME_ABLATE_RECIPES=all)")
checks.append((first == again, "the re-run's table equals the first run's"))
for ok, what in checks:
    print(("ok: " if ok else "FAILED: ") + what)
sys.exit(0 if all(ok for ok, _ in checks) else 1)
PY
exit $status
