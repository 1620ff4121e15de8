#!/usr/bin/env python3
"""flowgen against the cv2 loop people write (scripts/flow_cv2.py), side by side in one run.

Runs flowgen (--threads 1 and 2) and the script (1 and 2 processes) on the same list, algorithm
and working size, alternating, ROUNDS times each, and prints a Markdown table of the medians:
wall seconds, CPU seconds (user + system of the process and its children) and pairs
per CPU second, then the two ratios the goals are stated in. Both store what a trainer needs:
flowgen its HDF5 shards (JPEG frames, LOCO-coded flow), the script JPEG frames and the two
+-20 px flow JPEGs per pair.

  scripts/bench-peer.py --flowgen build/release/flowgen/flowgen --list LIST --root ROOT \\
      [--algo dis-fast] [--short-side 256] [--rounds 3]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def cpu_of(command):
    """(wall s, CPU s of the command and its children, stdout): os.times() counts reaped children."""
    before, start = os.times(), time.monotonic()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate()
    wall = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit(f"bench-peer: {' '.join(command)} exited {proc.returncode}:\n{err}")
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return wall, cpu, out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flowgen", required=True)
    parser.add_argument("--list", required=True)
    parser.add_argument("--root", default=".")
    parser.add_argument("--algo", default="dis-fast")
    parser.add_argument("--short-side", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--python", default="/usr/bin/python3", help="a Python with python3-opencv")
    parser.add_argument("--before", help="another flowgen build (e.g. the last commit's) for a row of its own")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="bench-peer-")
    common = ["--list", args.list, "--root", args.root, "--algo", args.algo, "--short-side", str(args.short_side)]
    pipelines = [
        ("`flowgen --threads 1`", lambda out: [args.flowgen, "-q", "--threads", "1", "--out", out] + common),
        ("cv2 script, 1 process", lambda out: [args.python, os.path.join(HERE, "flow_cv2.py"), "--out", out] + common),
        ("`flowgen --threads 2`", lambda out: [args.flowgen, "-q", "--threads", "2", "--out", out] + common),
        ("cv2 script, 2 processes",
         lambda out: [args.python, os.path.join(HERE, "flow_cv2.py"), "--processes", "2", "--out", out] + common),
    ]
    if args.before:
        pipelines.insert(1, ("`flowgen --threads 1`, before",
                             lambda out: [args.before, "-q", "--threads", "1", "--out", out] + common))
    runs = {name: [] for name, _ in pipelines}
    pairs = None
    for _ in range(args.rounds):
        for name, make in pipelines:
            out = os.path.join(work, "out")
            shutil.rmtree(out, ignore_errors=True)
            wall, cpu, text = cpu_of(make(out))
            if "cv2" in name:
                pairs = int(text.split()[1])
            runs[name].append((wall, cpu))
            shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)
    print(f"{args.algo} at short side {args.short_side}, {pairs} pairs; median of {args.rounds} alternating rounds.\n")
    print("| pipeline | wall s | CPU s | pairs per CPU s |")
    print("|---|---|---|---|")
    med = {}
    for name, _ in pipelines:
        wall = statistics.median(w for w, _ in runs[name])
        cpu = statistics.median(c for _, c in runs[name])
        med[name] = (wall, cpu)
        print(f"| {name} | {wall:.2f} | {cpu:.2f} | {pairs / cpu:.1f} |")
    f1, s1, f2 = med["`flowgen --threads 1`"], med["cv2 script, 1 process"], med["`flowgen --threads 2`"]
    print(f"\nflowgen, one thread: {s1[1] / f1[1]:.2f}x the script's pairs per CPU second (goal: 2x); "
          f"two threads: {f1[0] / f2[0]:.2f}x one thread's speed (goal: 1.8x).")


if __name__ == "__main__":
    main()
