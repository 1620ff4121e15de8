#!/usr/bin/python3
"""The ablation's table and picture, from what scripts/ablate.sh left in OUTDIR.

    scripts/ablate-summary.py OUTDIR --scale quick|full --recipes NAME... [--settings TEXT]

Reads OUTDIR/runs/RECIPE/seedS/{probe,finetune}/eval.json and confusion.csv, the pretraining's
metrics.jsonl, OUTDIR/set/classes.json and trainer/configs/ablation/RECIPE.json. Writes
OUTDIR/results.json, OUTDIR/results.md (mean and spread over seeds, top-1 per family of classes)
and OUTDIR/results.png (top-1 per recipe with error bars; the pretraining losses side by side).
A recipe with no finished seed is listed as missing.
"""
import argparse
import csv
import glob
import json
import math
import os
import statistics

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STAGES = ("probe", "finetune")


def read_confusion(path):
    with open(path) as f:
        rows = list(csv.reader(f))[1:]
    return [[int(v) for v in row[1:]] for row in rows]


def family_top1(confusion, classes):
    """Top-1 within each family of classes: the share of its clips predicted as their own class."""
    result = {}
    for family in dict.fromkeys(c["family"] for c in classes):
        labels = [c["label"] for c in classes if c["family"] == family]
        total = sum(sum(confusion[i]) for i in labels if i < len(confusion))
        right = sum(confusion[i][i] for i in labels if i < len(confusion))
        result[family] = right / total if total else float("nan")
    return result


def spread(values):
    return {"mean": statistics.fmean(values), "sd": statistics.stdev(values) if len(values) > 1 else None,
            "values": values}


def collect(out, recipe, classes):
    row = {"recipe": recipe, "seeds": 0}
    with open(os.path.join(REPO, "trainer", "configs", "ablation", f"{recipe}.json")) as f:
        row["description"] = json.load(f)["description"]
    per_stage = {s: [] for s in STAGES}
    families = {s: [] for s in STAGES}
    losses = []
    videos = 0
    for seed_dir in sorted(glob.glob(os.path.join(out, "runs", recipe, "seed*"))):
        evals = {s: os.path.join(seed_dir, s, "eval.json") for s in STAGES}
        if not all(os.path.isfile(p) for p in evals.values()):
            continue
        row["seeds"] += 1
        for s in STAGES:
            with open(evals[s]) as f:
                result = json.load(f)
            videos = result["videos"]
            per_stage[s].append(result["top1"])
            families[s].append(family_top1(read_confusion(os.path.join(seed_dir, s, "confusion.csv")), classes))
        metrics = os.path.join(seed_dir, "pretrain", "metrics.jsonl")
        if os.path.isfile(metrics):
            with open(metrics) as f:
                losses.append([json.loads(line) for line in f if line.strip()])
    if not row["seeds"]:
        return row
    row["test_clips"] = videos
    for s in STAGES:
        row[s] = spread(per_stage[s])
        row[f"{s}_families"] = {fam: statistics.fmean(f[fam] for f in families[s]) for fam in families[s][0]}
    if losses:
        row["final_losses"] = {k: statistics.fmean(run[-1]["losses"][k] for run in losses)
                               for k in losses[0][-1]["losses"] if losses[0][-1]["losses"][k] > 0}
        row["loss_curves"] = [[(m["step"], m["losses"]) for m in run] for run in losses]
    return row


def cell(stat):
    if stat["sd"] is None:
        return f"{stat['mean']:.2f}"
    return f"{stat['mean']:.2f} ± {stat['sd']:.2f}"


def write_markdown(path, rows, summary):
    families = summary["families"]
    lines = [
        f"Scale `{summary['scale']}`: {summary['settings']}.",
        f"{summary['classes']} classes (chance {summary['chance']:.2f}), {summary['test_clips']} test clips from "
        f"videos never seen in training; top-1 as mean ± standard deviation over seeds "
        f"({'one seed: a binomial standard error of about ' + format(summary['binomial_se'], '.2f') if summary['max_seeds'] == 1 else 'seeds as listed'}).",
        "",
        "| recipe | seeds | probe top-1 | probe top-1 by family (" + " / ".join(families) + ") | fine-tune top-1 "
        "| fine-tune by family | final pretraining losses |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if not r["seeds"]:
            lines.append(f"| {r['recipe']} | 0 | missing | | | | |")
            continue
        losses = ", ".join(f"{k} {v:.4f}" for k, v in sorted(r.get("final_losses", {}).items())) or "(none)"
        lines.append(
            f"| {r['recipe']} | {r['seeds']} | {cell(r['probe'])} | "
            + " / ".join(f"{r['probe_families'][f]:.2f}" for f in families)
            + f" | {cell(r['finetune'])} | " + " / ".join(f"{r['finetune_families'][f]:.2f}" for f in families)
            + f" | {losses} |")
    lines += ["", "Recipes:", ""] + [f"- `{r['recipe']}`: {r['description']}" for r in rows]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def write_picture(path, rows, summary):
    done = [r for r in rows if r["seeds"]]
    curves = [r for r in done if r.get("loss_curves")]
    cols = max(1, math.ceil(len(curves) / 2))
    fig = plt.figure(figsize=(5 + 3 * cols, 7), constrained_layout=True)
    grid = fig.add_gridspec(2, 1 + cols, width_ratios=[2.2] + [1] * cols)
    ax = fig.add_subplot(grid[:, 0])
    width = 0.38
    for i, stage in enumerate(STAGES):
        means = [r[stage]["mean"] for r in done]
        if summary["max_seeds"] > 1:
            errors = [r[stage]["sd"] or 0 for r in done]
        else:  # one seed: the binomial standard error of a top-1 over the test clips
            errors = [math.sqrt(m * (1 - m) / summary["test_clips"]) for m in means]
        ax.barh([k + (i - 0.5) * width for k in range(len(done))], means, width, xerr=errors, capsize=3,
                label={"probe": "linear probe", "finetune": "fine-tuned"}[stage])
    ax.axvline(summary["chance"], color="grey", linestyle="--", label="chance")
    ax.set_yticks(range(len(done)), [r["recipe"] for r in done])
    ax.invert_yaxis()
    ax.set_xlabel("top-1 on held-out videos" + (" (± sd over seeds)" if summary["max_seeds"] > 1 else
                                                 " (± binomial s.e., one seed)"))
    ax.set_xlim(0, 1)
    ax.legend(loc="lower right")
    ax.set_title(f"ablation ({summary['scale']})")
    for k, r in enumerate(curves):
        sub = fig.add_subplot(grid[k // cols, 1 + k % cols])
        for run_index, run in enumerate(r["loss_curves"]):
            steps = [s for s, _ in run]
            for name in sorted(run[0][1]):
                values = [losses[name] for _, losses in run]
                if max(values) > 0:
                    sub.plot(steps, values, label=name if run_index == 0 else None, alpha=0.8)
        sub.set_yscale("log")
        sub.set_title(r["recipe"], fontsize=9)
        sub.tick_params(labelsize=7)
        sub.legend(fontsize=6)
    fig.savefig(path, dpi=110)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("--scale", required=True)
    parser.add_argument("--recipes", nargs="+", required=True)
    parser.add_argument("--settings", default="")
    args = parser.parse_args()
    with open(os.path.join(args.out, "set", "classes.json")) as f:
        classes = json.load(f)
    rows = [collect(args.out, r, classes) for r in args.recipes]
    done = [r for r in rows if r["seeds"]]
    test_clips = done[0]["test_clips"] if done else 0
    summary = {
        "scale": args.scale,
        "settings": args.settings,
        "classes": len(classes),
        "families": list(dict.fromkeys(c["family"] for c in classes)),
        "chance": 1 / len(classes),
        "test_clips": test_clips,
        "max_seeds": max((r["seeds"] for r in rows), default=0),
        "binomial_se": math.sqrt(0.25 / test_clips) if test_clips else float("nan"),
    }
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({**summary, "recipes": [{k: v for k, v in r.items() if k != "loss_curves"} for r in rows]}, f,
                  indent=1)
    write_markdown(os.path.join(args.out, "results.md"), rows, summary)
    if done:
        write_picture(os.path.join(args.out, "results.png"), rows, summary)
    with open(os.path.join(args.out, "results.md")) as f:
        print(f.read(), end="")


if __name__ == "__main__":
    main()
