#!/usr/bin/python3
"""Plots a trainer run's metrics (RUNDIR/metrics.jsonl) to a PNG.

    scripts/plot-metrics.py RUNDIR [--out RUNDIR/metrics.png]

Panels: the loss and each target's loss, the learning rate, clips per second, and the share of
each step spent waiting for data. Uses Debian's python3-matplotlib (no display needed).
"""
import argparse
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="trainer run directory (holds metrics.jsonl)")
    parser.add_argument("--out", help="PNG to write (default: RUNDIR/metrics.png)")
    args = parser.parse_args()
    path = os.path.join(args.run, "metrics.jsonl")
    try:
        with open(path) as f:
            lines = [json.loads(line) for line in f if line.strip()]
    except OSError as e:
        sys.exit(f"plot-metrics: {path}: {e.strerror}")
    if not lines:
        sys.exit(f"plot-metrics: {path}: no steps logged yet")
    step = [m["step"] for m in lines]
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), constrained_layout=True)
    ax = axes[0][0]
    ax.plot(step, [m["loss"] for m in lines], label="loss (weighted sum)", color="black")
    for name in sorted(lines[0].get("losses", {})):
        ax.plot(step, [m["losses"][name] for m in lines], label=name, alpha=0.8)
    ax.set_yscale("log")
    ax.set_title("loss")
    ax.legend()
    axes[0][1].plot(step, [m["lr"] for m in lines])
    axes[0][1].set_title("learning rate")
    axes[1][0].plot(step, [m["clips_per_s"] for m in lines])
    axes[1][0].set_title("clips / s")
    axes[1][1].plot(step, [100 * m["data_wait"] for m in lines])
    axes[1][1].set_title("% of step time waiting for data")
    for a in axes.flat:
        a.set_xlabel("step")
        a.grid(alpha=0.3)
    fig.suptitle(os.path.abspath(args.run))
    out = args.out or os.path.join(args.run, "metrics.png")
    fig.savefig(out, dpi=100)
    print(out)


if __name__ == "__main__":
    main()
