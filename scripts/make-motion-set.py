#!/usr/bin/python3
"""A labelled set of clips cut from real footage whose classes differ only in their motion.

    scripts/make-motion-set.py SAMPLES_DIR OUT [--families pan,zoom,rotate,track] [--places N]
        [--train-videos "a.avi b.mp4"] [--test-videos "..."] [--size 96] [--frames 32] [--jobs N]
    scripts/make-motion-set.py --check FLOW_DIR OUT     (each label against the measured flow)

A window moves over a playing sample video; what the window sees becomes the clip. Every
(video, time, place) gives one clip per class, all from the same footage, identical at the clip's
middle frame, so appearance carries no label. The families and their classes (labels in this order):

  pan     the content moves left, right, up or down (a common translation: what the per-patch
          normalisation of MME's trajectories removes by design)
  zoom    the content expands (zoom in) or contracts (zoom out)
  rotate  the content turns clockwise or anticlockwise
  track   an object (a patch of the same footage) stays at the centre while its background moves
          right or left: the object moves left or right against its background

The zoom and turn start from a random scale and angle per place (shared by the classes), so that
a single frame's scale or orientation says little about the class. Frames are resampled
bilinearly from the source frames (sub-pixel motion, no integer steps). Train and test clips come
from different source videos. Writes OUT/clips/*.mp4, OUT/train.txt, OUT/test.txt (`clip label`),
OUT/classes.json (label -> name, family, motion) and prints OUT.

--check reads the flow that flowgen stored for OUT's clips and measures, per clip, the common
translation, the divergence (expansion), the curl (turning) and the centre's motion against the
border's; it prints the clips whose measured motion does not match their label and exits 1 if any.
"""
import argparse
import glob
import json
import math
import os
import subprocess
import sys
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np

# name, family, the motion it makes (used by --check)
CLASSES = {
    "pan": [("left", (-1, 0)), ("right", (1, 0)), ("up", (0, -1)), ("down", (0, 1))],
    "zoom": [("zoom-in", +1), ("zoom-out", -1)],
    "rotate": [("clockwise", +1), ("anticlockwise", -1)],
    "track": [("object-left", +1), ("object-right", -1)],  # +1: background moves right
}
SPEED = 3.0  # px per frame: pans, and the background under a tracked object
ZOOM_RATE = 0.03  # log scale per frame (an edge 48 px from the centre moves ~1.4 px per frame)
TURN_RATE = 0.03  # radians per frame (~1.4 px per frame at 48 px from the centre)
OBJECT_SHARE = 0.5  # the tracked object's side, as a share of the window's
FPS = 25
MATCHED_SHARE = 0.9  # --check: the share of each class's clips whose flow must show their label
TEXTURE_FLOOR = 2.0  # grey levels per pixel: the least textured ninth of a usable window
OWN_SPEED_LIMIT = 0.5  # px per frame: places whose footage moves more are used only when no other is left
CANDIDATES = 8  # positions tried per place; the best-textured one is used


def fail(message):
    sys.exit(f"make-motion-set: {message}")


def probe(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "stream=width,height:format=duration", "-of", "json", path],
                         capture_output=True, text=True)
    if out.returncode != 0:
        fail(f"{path}: ffprobe cannot read it: {out.stderr.strip()}")
    info = json.loads(out.stdout)
    if not info.get("streams"):
        fail(f"{path}: no video stream")
    return info["streams"][0]["width"], info["streams"][0]["height"], float(info["format"]["duration"])


def read_frames(path, start, count, scale, width, height):
    w, h = int(width * scale) // 2 * 2, int(height * scale) // 2 * 2
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-ss", f"{start:.3f}", "-i", path, "-frames:v", str(count),
           "-vf", f"scale={w}:{h}:flags=bicubic", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    out = subprocess.run(cmd, capture_output=True)
    frames = np.frombuffer(out.stdout, np.uint8)
    if out.returncode != 0 or frames.size < w * h * 3:
        fail(f"{path}: cannot decode {count} frames at {start:.2f} s: {out.stderr.decode().strip()}")
    frames = frames[: frames.size // (w * h * 3) * (w * h * 3)].reshape(-1, h, w, 3).astype(np.float32)
    while len(frames) < count:  # a short tail: hold the last frame rather than fail
        frames = np.concatenate([frames, frames[-1:]])
    return frames


def sample(frame, xs, ys):
    """Bilinear sample of frame (H, W, 3) at float coordinates xs, ys (any shape)."""
    h, w = frame.shape[:2]
    xs = np.clip(xs, 0, w - 1.001)
    ys = np.clip(ys, 0, h - 1.001)
    x0, y0 = np.floor(xs).astype(int), np.floor(ys).astype(int)
    fx, fy = (xs - x0)[..., None], (ys - y0)[..., None]
    top = frame[y0, x0] * (1 - fx) + frame[y0, x0 + 1] * fx
    bottom = frame[y0 + 1, x0] * (1 - fx) + frame[y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def source_points(family, motion, tau, size, base_scale, base_angle):
    """Where, relative to the place, the window's pixels come from at centred time tau."""
    c = (size - 1) / 2
    v, u = np.mgrid[0:size, 0:size].astype(np.float32)
    dx, dy = u - c, v - c
    if family == "pan" or family == "track":
        mx, my = motion if family == "pan" else (motion, 0)
        return dx - mx * SPEED * tau, dy - my * SPEED * tau
    scale = base_scale * (math.exp(motion * ZOOM_RATE * tau) if family == "zoom" else 1.0)
    angle = base_angle + (motion * TURN_RATE * tau if family == "rotate" else 0.0)
    # Content turning clockwise on screen (y down) by `angle` samples the source turned back by it.
    ca, sa = math.cos(angle), math.sin(angle)
    return (ca * dx + sa * dy) / scale, (-sa * dx + ca * dy) / scale


def reach(size, frames):
    """The largest distance from the place, along x or y, that any class samples."""
    tau = (frames - 1) / 2
    half = size / 2
    turned = half * math.sqrt(2) / math.exp(-0.25 - ZOOM_RATE * tau)  # smallest scale drawn, any angle
    return max(half + SPEED * tau, turned) + 2


def texture(frame, centre, size):
    """The least textured ninth of the window of side `size` around centre (its mean gradient
    magnitude): every part of the window must show motion, the border under a tracked object too."""
    x, y = int(centre[0] - size / 2), int(centre[1] - size / 2)
    grey = frame[y:y + size, x:x + size].mean(axis=2)
    gy, gx = np.gradient(grey)
    magnitude = np.hypot(gx, gy)
    third = size // 3
    return float(min(magnitude[i:i + third, j:j + third].mean() for i in range(0, 3 * third, third)
                     for j in range(0, 3 * third, third)))


def own_speed(frames, centre, size):
    """The footage's own motion in the window, px per frame, from brightness constancy: the mean
    temporal difference over the mean spatial gradient."""
    x, y = int(centre[0] - size / 2), int(centre[1] - size / 2)
    grey = frames[:, y:y + size, x:x + size].mean(axis=3)
    gy, gx = np.gradient(grey, axis=(1, 2))
    return float(np.abs(np.diff(grey, axis=0)).mean() / (np.hypot(gx, gy).mean() + 1e-6))


def cut_place(task):
    """Writes every class's clip of one (video, time, place)."""
    path, start, scale, width, height, candidates, rng_seed, size, frames, clips = task
    rng = np.random.default_rng(rng_seed)
    base_scale = math.exp(rng.uniform(-0.25, 0.25))
    base_angle = rng.uniform(0, 2 * math.pi)
    source = read_frames(path, start, frames, scale, width, height)
    # The best-textured candidate among those whose own motion is small is the place, the next one
    # the tracked object's source: on a bare wall no flow (and no model) could see the motion, and
    # footage that moves by itself would add its motion to the label's.
    scores = []
    for c in candidates:
        detail = texture(source[frames // 2], c, size)
        usable = detail >= TEXTURE_FLOOR and own_speed(source, c, size) <= OWN_SPEED_LIMIT
        scores.append((not usable, -detail))
    ranked = [c for _, c in sorted(zip(scores, candidates))]
    (px, py), (ox, oy) = ranked[0], ranked[1]
    tau0 = (frames - 1) / 2
    obj = int(size * OBJECT_SHARE) // 2 * 2
    lo, hi = (size - obj) // 2, (size + obj) // 2
    for family, motion, clip in clips:
        video = np.empty((frames, size, size, 3), np.uint8)
        for n in range(frames):
            xs, ys = source_points(family, motion, n - tau0, size, base_scale, base_angle)
            image = sample(source[n], xs + px, ys + py)
            if family == "track":  # the object: still at the centre, cut from another place
                c = (size - 1) / 2
                v, u = np.mgrid[lo:hi, lo:hi].astype(np.float32)
                image[lo:hi, lo:hi] = sample(source[n], u - c + ox, v - c + oy)
            video[n] = np.clip(image + 0.5, 0, 255).astype(np.uint8)
        cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s",
               f"{size}x{size}", "-r", str(FPS), "-i", "-", "-an", "-c:v", "libx264", "-crf", "12",
               "-pix_fmt", "yuv420p", clip]
        out = subprocess.run(cmd, input=video.tobytes(), capture_output=True)
        if out.returncode != 0:
            fail(f"{path}: cannot write {clip}: {out.stderr.decode().strip()}")


def make(args):
    families = [f for f in args.families.split(",") if f]
    for f in families:
        if f not in CLASSES:
            fail(f"unknown family '{f}' (known: {', '.join(CLASSES)})")
    classes = [(f, name, motion) for f in families for name, motion in CLASSES[f]]
    os.makedirs(os.path.join(args.out, "clips"), exist_ok=True)
    need = reach(args.size, args.frames)
    tasks, lists = [], {"train": [], "test": []}
    for split, videos in (("train", args.train_videos.split()), ("test", args.test_videos.split())):
        for video in videos:
            path = os.path.join(args.samples, video)
            if not os.path.isfile(path):
                fail(f"{path}: no such video")
            width, height, duration = probe(path)
            # Videos too small for the span are scaled up; larger ones are used at their size.
            scale = max(1.0, (2 * need + 4) / min(width, height) * 1.01)
            w, h = int(width * scale) // 2 * 2, int(height * scale) // 2 * 2
            name = os.path.splitext(os.path.basename(video))[0]
            for p in range(args.places):
                # Places spread over the video's time and area (a fixed, reproducible pattern).
                start = max(0.0, (duration - (args.frames + 2) / FPS) * (p + 0.5) / args.places)
                candidates = []
                for k in range(p * CANDIDATES, (p + 1) * CANDIDATES):
                    fx, fy = (k * 0.618034) % 1, (k * 0.381966 + 0.25) % 1
                    candidates.append((need + fx * (w - 2 * need), need + fy * (h - 2 * need)))
                clips = []
                for label, (family, cname, motion) in enumerate(classes):
                    clip = f"clips/{name}-{p}-{cname}.mp4"
                    clips.append((family, motion, os.path.join(args.out, clip)))
                    lists[split].append(f"{clip} {label}")
                seed = zlib.crc32(name.encode()) * 1000 + p  # the same draws on every run
                tasks.append((path, start, scale, width, height, candidates, seed, args.size, args.frames, clips))
    with ThreadPoolExecutor(args.jobs) as pool:
        list(pool.map(cut_place, tasks))
    for split in lists:
        with open(os.path.join(args.out, f"{split}.txt"), "w") as f:
            f.write("\n".join(lists[split]) + "\n")
    with open(os.path.join(args.out, "classes.json"), "w") as f:
        json.dump([{"label": i, "name": n, "family": fam, "motion": m} for i, (fam, n, m) in enumerate(classes)],
                  f, indent=1)
    print(args.out)


def measured_motion(flow):
    """Mean over pairs of: translation (u, v), divergence, curl and centre-minus-border motion in x,
    from flow (pairs, H, W, 2) in px per frame."""
    flow = flow.astype(np.float64)
    _, h, w, _ = flow.shape
    v, u = np.mgrid[0:h, 0:w]
    dx, dy = u - (w - 1) / 2, v - (h - 1) / 2
    r2 = (dx * dx + dy * dy).sum()
    fu, fv = flow[..., 0].mean(0), flow[..., 1].mean(0)
    div = ((fu * dx + fv * dy).sum()) / r2  # the fitted scale change per frame
    curl = ((fv * dx - fu * dy).sum()) / r2  # the fitted turn per frame (clockwise on screen > 0)
    # The object's inner half (flow is smoothed across its edges) against the window's outer ring.
    centre = (np.abs(dx) < w * OBJECT_SHARE / 4) & (np.abs(dy) < h * OBJECT_SHARE / 4)
    border = (np.abs(dx) > w * 0.375) | (np.abs(dy) > h * 0.375)
    relative = fu[centre].mean() - fu[border].mean()
    return fu.mean(), fv.mean(), div, curl, relative


def moves_as_labelled(family, motion, tu, tv, div, curl, relative):
    """The measured motion has the label's sign and at least a quarter of its size (a third of it
    for a tracked object, whose still centre DIS's smoothing fills with part of the background's
    motion: measured ~1.1 px of the 3 px)."""
    if family == "pan":
        t, m = (tu, motion[0]) if motion[0] else (tv, motion[1])
        return np.sign(t) == m and abs(t) > SPEED / 4
    if family == "zoom":
        return np.sign(div) == motion and abs(div) > ZOOM_RATE / 4
    if family == "rotate":
        return np.sign(curl) == motion and abs(curl) > TURN_RATE / 4
    # the object's motion against its background is minus the background's (motion +1: moving right)
    return np.sign(relative) == -motion and abs(relative) > SPEED / 12


def check(args):
    import h5py  # noqa: F401 (the plugin path must be set before the first file opens)

    with open(os.path.join(args.out, "classes.json")) as f:
        classes = json.load(f)
    labels = {}
    for split in ("train", "test"):
        with open(os.path.join(args.out, f"{split}.txt")) as f:
            for line in f:
                if line.strip():
                    clip, label = line.split()
                    labels[clip] = int(label)
    flows = {}
    for part in sorted(glob.glob(os.path.join(args.check, "shard-*", "part-*.h5"))):
        with h5py.File(part, "r") as f:
            for group in f["videos"].values():
                key = group.attrs["id"]
                key = key.decode() if isinstance(key, bytes) else key
                flows[key] = group["flow"][:].astype(np.float32) * group["flow"].attrs.get("scale", 0.125)
    missing = sorted(clip for clip in labels if clip not in flows)
    matched = {c["label"]: 0 for c in classes}
    counts = {c["label"]: 0 for c in classes}
    mismatches = []
    for clip, label in sorted(labels.items()):
        if clip in missing:
            continue
        c = classes[label]
        tu, tv, div, curl, relative = measured_motion(flows[clip])
        counts[label] += 1
        if moves_as_labelled(c["family"], c["motion"], tu, tv, div, curl, relative):
            matched[label] += 1
        else:
            mismatches.append(f"{clip} (label {label}, {c['name']}): translation ({tu:.2f}, {tv:.2f}) px, "
                              f"divergence {div:.4f}, curl {curl:.4f}, centre against border {relative:.2f} px")
    for line in mismatches:
        print(f"make-motion-set --check: the flow does not show the label's motion: {line}", file=sys.stderr)
    for clip in missing:
        print(f"make-motion-set --check: {clip}: no flow stored for it in {args.check}", file=sys.stderr)
    # Footage without texture (a bare wall, a sky) can hide a clip's motion from the flow, so a few
    # clips may not match; a wrong label or a generator bug shows as a whole class that does not.
    weak = [c["name"] for c in classes if counts[c["label"]] and matched[c["label"]] < MATCHED_SHARE * counts[c["label"]]]
    print(f"make-motion-set --check: {sum(matched.values())} of {len(labels)} clips move as their label says; "
          + (f"too few in {', '.join(weak)}" if weak else f"at least {MATCHED_SHARE:.0%} in every class"))
    sys.exit(1 if weak or missing else 0)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("samples", nargs="?", help="folder of the source videos")
    parser.add_argument("out", help="the set's folder")
    parser.add_argument("--families", default="pan,zoom,rotate,track")
    parser.add_argument("--places", type=int, default=6, help="places per source video")
    parser.add_argument("--train-videos", default="opencv-doc/vtest.avi opencv-doc/Megamind.avi "
                        "opencv-doc/box.mp4")
    parser.add_argument("--test-videos", default="opencv-doc/cup.mp4 opencv-doc/tree.avi "
                        "python3-mecavideo/balle1-vp9.avi")
    parser.add_argument("--size", type=int, default=96, help="the clips' side in pixels")
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    parser.add_argument("--check", metavar="FLOW_DIR", help="check OUT's labels against this flow")
    args = parser.parse_args()
    if args.check:
        check(args)
    elif not args.samples:
        parser.error("SAMPLES_DIR is needed to make a set")
    else:
        make(args)


if __name__ == "__main__":
    main()
