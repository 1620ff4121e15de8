#!/usr/bin/python3
"""Prints the demo's summary table and writes it to OUTDIR/summary.json.

    scripts/demo-summary.py OUTDIR --flow-seconds S

Reads what scripts/demo.sh left in OUTDIR: flowgen's and trajgen's manifests (flow/, targets/,
directions/), the pretraining metrics (pretrain/ and pretrain-pixels/metrics.jsonl) and the three
probes' eval.json (MME-pretrained, pixel-pretrained, untrained).
"""
import argparse
import glob
import json
import os
import sys


def manifest_lines(folder):
    lines = []
    for path in sorted(glob.glob(os.path.join(folder, "shard-*", "manifest.jsonl"))):
        with open(path) as f:
            lines += [json.loads(line) for line in f if line.strip()]
    return lines


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"demo-summary: {path}: {e}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", help="the demo's output folder")
    parser.add_argument("--flow-seconds", type=float, required=True, help="flowgen's wall time on the samples")
    args = parser.parse_args()
    out = args.out

    flow = manifest_lines(os.path.join(out, "flow"))
    targets = manifest_lines(os.path.join(out, "targets")) + manifest_lines(os.path.join(out, "directions", "targets"))
    ok = [m for m in flow if m.get("status") == "ok"]
    pairs = sum(m.get("pairs", 0) for m in ok)
    with open(os.path.join(out, "pretrain", "metrics.jsonl")) as f:
        last = [json.loads(line) for line in f if line.strip()][-1]
    probe = read_json(os.path.join(out, "probe", "eval.json"))
    pixels = read_json(os.path.join(out, "probe-pixels", "eval.json"))
    untrained = read_json(os.path.join(out, "probe-untrained", "eval.json"))
    with open(os.path.join(out, "pretrain-pixels", "metrics.jsonl")) as f:
        last_pixels = [json.loads(line) for line in f if line.strip()][-1]
    summary = {
        "videos": len(ok),
        "failed": sum(1 for m in flow if m.get("status") == "failed"),
        "flow_pairs": pairs,
        "flow_seconds": args.flow_seconds,
        "pairs_per_s": pairs / args.flow_seconds if args.flow_seconds > 0 else 0.0,
        "target_videos": sum(1 for m in targets if m.get("status") == "ok"),
        "trajectory_starts": sum(m.get("starts", 0) for m in targets if m.get("status") == "ok"),
        "pretrain_steps": last["step"],
        "final_losses": last["losses"],
        "probe_top1": probe["top1"],
        "pixel_final_losses": last_pixels["losses"],
        "pixel_probe_top1": pixels["top1"],
        "untrained_probe_top1": untrained["top1"],
        "chance": 1.0 / probe["classes"],
        "test_videos": probe["videos"],
    }
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)

    print("| sample videos (failed) | flow pairs/s | target videos (tube starts) | pretraining recipe "
          "| final pretraining losses | probe top-1 on held-out videos (chance) |")
    print("|---|---|---|---|---|---|")
    facts = (f"| {summary['videos']} ({summary['failed']}) | {summary['pairs_per_s']:.0f} "
             f"| {summary['target_videos']} ({summary['trajectory_starts']}) ")
    blank = "| | | "
    rows = [("MME (raw/20 trajectories + HOG)", summary["final_losses"], summary["probe_top1"]),
            ("VideoMAE (pixels)", summary["pixel_final_losses"], summary["pixel_probe_top1"]),
            ("none (untrained encoder)", {}, summary["untrained_probe_top1"])]
    for i, (recipe, final, top1) in enumerate(rows):
        losses = " / ".join(f"{name} {value:.4f}" for name, value in sorted(final.items()) if value > 0) or "-"
        print((facts if i == 0 else blank) + f"| {recipe} | {losses} | {top1:.2f} ({summary['chance']:.2f}, "
              f"{summary['test_videos']} clips) |")


if __name__ == "__main__":
    main()
