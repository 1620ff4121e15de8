"""Reads `trainer masks`' PNG back and checks what it shows, not only its size.

usage: check_mask_picture.py PNG ROWS SLICES SIDE PATCH RATIO
Each row is one strategy, each column a time slice; a masked token's pixels are v // 4 + 20
(+ 40 on the patch grid lines) of the visible pixel v. The same clip is in every row, so a token's
tile in one row is either the frame's tile F or darken(F). Checks: every tile is one of the two;
the tube row masks the same positions in every slice; the slice-wise rows (tube, mofo, mgm) mask
int(RATIO x SIDE^2) tokens per slice, the random row int(RATIO x tokens) in all (tokens masked in
every row, whose F is unknown, may count either way); the MOFO row alone has the yellow box, and
masks min(n, floor(0.75 x |inside|)) of the positions inside it (mask.mofo_inside's default).
"""
import sys

import matplotlib.image
import numpy as np

png, rows, slices, side, patch, ratio = sys.argv[1], *map(int, sys.argv[2:6]), float(sys.argv[6])
rows_names = sys.argv[7].split(",")
a = np.rint(matplotlib.image.imread(png)[..., :3] * 255).astype(np.int32)
S = side * patch
grid = np.zeros((patch, patch), bool)
grid[0, :] = grid[:, 0] = True
darken_add = np.where(grid, 40, 20)[..., None]


def tile(r, t, k):
    y, x = divmod(k, side)
    y0, x0 = r * (S + 4) + y * patch, t * (S + 4) + x * patch
    return a[y0:y0 + patch, x0:x0 + patch]


yellow = np.all(a == [255, 220, 0], axis=-1)
mofo = rows_names.index("mofo") if "mofo" in rows_names else -1
masked_per_slice = int(ratio * side * side)
state = np.full((rows, slices, side * side), -1)  # 1 masked, 0 visible, -1 unknown


def overdrawn(r, t, k):
    """The pixels of the tile that the MOFO box is drawn over (compared nowhere)."""
    if r != mofo:
        return np.zeros((patch, patch, 1), bool)
    y0, x0 = r * (S + 4) + (k // side) * patch, t * (S + 4) + (k % side) * patch
    return yellow[y0:y0 + patch, x0:x0 + patch][..., None]


for t in range(slices):
    for k in range(side * side):
        tiles = [tile(r, t, k) for r in range(rows)]
        over = [overdrawn(r, t, k) for r in range(rows)]
        if all(np.all((x == tiles[0]) | o | over[0]) for x, o in zip(tiles, over)):
            continue  # the same in every row: masked everywhere or visible everywhere, unknown
        for cand, cand_over in zip(tiles, over):  # a row where the token is visible gives the frame
            dark = cand // 4 + darken_add
            verdict = []
            for x, o in zip(tiles, over):
                o = o | cand_over
                if np.all((x == cand) | o):
                    verdict.append(0)
                elif np.all((x == dark) | o):
                    verdict.append(1)
                else:
                    break
            if len(verdict) == rows:
                state[:, t, k] = verdict
                break
        else:
            sys.exit(f"slice {t} token {k}: its tiles are neither the frame nor the frame darkened")

known = state >= 0
assert known.mean() > 0.5, f"only {known.mean():.0%} of the tokens could be told apart"
for r in range(rows):
    if rows_names[r] == "random":  # int(RATIO x all tokens) over the whole clip
        m, u, n = (state[r] == 1).sum(), (state[r] == -1).sum(), int(ratio * slices * side * side)
        assert m <= n <= m + u, (rows_names[r], m, u, n)
        continue
    for t in range(slices):  # the slice-wise strategies: int(RATIO x SIDE^2) in every slice
        m, u = (state[r, t] == 1).sum(), (state[r, t] == -1).sum()
        assert m <= masked_per_slice <= m + u, (rows_names[r], t, m, u, masked_per_slice)
tube = state[rows_names.index("tube")]
for t in range(1, slices):
    both = (tube[0] >= 0) & (tube[t] >= 0)
    assert np.array_equal(tube[0][both], tube[t][both]), f"the tube mask differs in slice {t}"
if "random" in rows_names:
    rnd = state[rows_names.index("random")]
    both = (rnd[0] >= 0) & (rnd[1] >= 0)
    assert not np.array_equal(rnd[0][both], rnd[1][both]), "the random mask is the same in two slices"
if mofo >= 0:  # MOFO's rule: k = min(n, floor(0.75 x |inside|)) of the n masked positions inside the box
    ys, xs = np.nonzero(yellow[mofo * (S + 4):mofo * (S + 4) + S, :S])
    assert len(xs) > 0, "the MOFO row has no box"
    x0, x1, y0, y1 = xs.min() + 1, xs.max() - 1, ys.min() + 1, ys.max() - 1  # the lines are 3 px wide
    centre = (np.arange(side) + 0.5) * patch
    inside = ((centre[None, :] >= x0) & (centre[None, :] <= x1) & (centre[:, None] >= y0) &
              (centre[:, None] <= y1)).reshape(-1)
    k = min(masked_per_slice, int(0.75 * inside.sum()))
    for t in range(slices):
        m, u = (state[mofo, t][inside] == 1).sum(), (state[mofo, t][inside] == -1).sum()
        assert m <= k <= m + u, ("mofo inside the box", t, m, u, k, inside.sum())
for r in range(rows):
    has_box = yellow[r * (S + 4):(r + 1) * (S + 4)].any()
    assert has_box == (r == mofo), (rows_names[r], has_box)
print(f"mask picture: {known.mean():.0%} of the tokens told apart, every row masks {masked_per_slice} per slice")
