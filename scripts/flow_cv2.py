#!/usr/bin/env python3
"""The peer flowgen is measured against: the flow-extraction loop people write with python3-opencv.

For every video of a dataset list: cv2.VideoCapture, cv2.resize (its default, bilinear) to the
working short side, cvtColor to grey, dense flow between consecutive frames (DIS, Farneback or Dual TV-L1 with one
OpenCV thread), and cv2.imwrite of each frame and of the two flow components clipped to +-20 px
and mapped to 0..255 (the two-stream "flow_x/flow_y" JPEGs of denseflow, MME's and mmaction2's
extraction). --processes N splits the videos over N processes, as such scripts do with
multiprocessing.Pool. Prints one line: pairs, wall seconds and CPU seconds (all processes).

  scripts/flow_cv2.py --list LIST --root ROOT --out DIR [--algo dis-fast] [--short-side 256]
"""
import argparse
import os
import resource
import sys
import time
from multiprocessing import Pool

import cv2
import numpy as np

BOUND = 20.0  # px: the +-20 clip of two-stream flow images


def make_flow(algo):
    if algo.startswith("dis-"):
        preset = {"dis-ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
                  "dis-fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
                  "dis-medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}[algo]
        dis = cv2.DISOpticalFlow_create(preset)
        return lambda a, b: dis.calc(a, b, None)
    if algo == "farneback":
        return lambda a, b: cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    if algo == "tvl1":
        tvl1 = cv2.optflow.DualTVL1OpticalFlow_create()
        return lambda a, b: tvl1.calc(a, b, None)
    sys.exit(f"flow_cv2.py: unknown algorithm {algo}")


def to_uint8(component):
    return np.clip((component + BOUND) * (255.0 / (2 * BOUND)), 0, 255).astype(np.uint8)


def extract(job):
    path, out_dir, algo, short_side = job
    cv2.setNumThreads(1)
    flow_of = make_flow(algo)
    os.makedirs(out_dir, exist_ok=True)
    cap = cv2.VideoCapture(path)
    prev, index, pairs = None, 0, 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        h, w = frame.shape[:2]
        scale = short_side / min(h, w)
        frame = cv2.resize(frame, (round(w * scale / 2) * 2, round(h * scale / 2) * 2))  # the default, bilinear
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        cv2.imwrite(os.path.join(out_dir, f"img_{index:05d}.jpg"), frame)
        if prev is not None:
            flow = flow_of(prev, gray)
            cv2.imwrite(os.path.join(out_dir, f"flow_x_{index - 1:05d}.jpg"), to_uint8(flow[..., 0]))
            cv2.imwrite(os.path.join(out_dir, f"flow_y_{index - 1:05d}.jpg"), to_uint8(flow[..., 1]))
            pairs += 1
        prev, index = gray, index + 1
    return pairs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", required=True)
    parser.add_argument("--root", default=".")
    parser.add_argument("--out", required=True)
    parser.add_argument("--algo", default="dis-fast")
    parser.add_argument("--short-side", type=int, default=256)
    parser.add_argument("--processes", type=int, default=1)
    args = parser.parse_args()
    jobs = []
    with open(args.list) as f:
        for i, line in enumerate(f):
            if line.strip():
                path = line.rsplit(maxsplit=1)[0] if len(line.split()) > 1 else line.strip()
                jobs.append((os.path.join(args.root, path), os.path.join(args.out, str(i)), args.algo,
                             args.short_side))
    start = time.monotonic()
    if args.processes > 1:
        with Pool(args.processes) as pool:
            pairs = sum(pool.map(extract, jobs, chunksize=1))
    else:
        pairs = sum(extract(job) for job in jobs)
    wall = time.monotonic() - start
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    print(f"pairs {pairs} wall {wall:.3f} cpu {cpu:.3f}")


if __name__ == "__main__":
    main()
