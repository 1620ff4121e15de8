#pragma once
// Where a clip comes from in a video: which native frames, which crop, whether flipped; and the
// resampling that applies the *same* crop and flip to the frames and to the dense trajectory map
// (docs/method.md section 1), so that the targets still describe the motion of the pixels the model
// sees. Pure functions on plain buffers: tested without LibTorch.
#include <mme/jpeg.h>
#include <trainer/rng.h>

#include <array>
#include <cstdint>
#include <vector>

namespace trainer {

// `frames` indices starting at a uniformly drawn offset, `stride` apart. Videos shorter than the
// clip's span start at 0 and repeat their last frame (as VideoMAE's loader does).
std::vector<int> sample_frame_indices(int video_frames, int clip_frames, int stride, Rng& rng);

// A crop of the working frame (pixels), then resized to the model's square input.
struct CropBox {
  int x0 = 0, y0 = 0, width = 0, height = 0;
  bool flip = false;  // horizontal, applied after the crop
};

// VideoMAE's GroupMultiScaleCrop: side = min(W, H) x scale for each scale (snapped to `size`
// within 3 px), a (w, h) pair whose scale indices differ by at most `max_distort`, and one of the
// 13 fixed positions (corners, centre, edge centres, quarter points). Flip with probability 1/2
// when `flip`.
CropBox multi_scale_crop(int width, int height, const std::vector<double>& scales, int max_distort, int size, bool flip,
                         Rng& rng);

// Bilinear crop + resize of an RGB image to size x size (pixel-centre aligned), flipped if asked.
void crop_resize_rgb(const mme::RgbImage& image, const CropBox& crop, int size, std::uint8_t* out);

// The trajectory map of one start frame, resampled like the frames. Input: the seeds' per-step
// displacements [grid_h, grid_w, steps, 2] (pixels of the working frame, seed (i, j) at
// x = cell/2 + cell j) and their validity [grid_h, grid_w]. Output: the same for a grid of
// (size / cell)^2 seeds laid out the same way on the model's input, with displacements in input
// pixels: bilinear over the seed grid, scaled by the crop's zoom and mirrored by the flip;
// validity from the nearest seed.
void crop_resize_trajectories(const float* displacement, const std::uint8_t* valid, int grid_h, int grid_w, int steps,
                              int cell, const CropBox& crop, int size, float* out_displacement,
                              std::uint8_t* out_valid);

// A per-cell scalar map [grid_h, grid_w] (seed/cell layout as above, e.g. trajgen's motion
// magnitudes) sampled bilinearly at the centres of an out_side x out_side grid laid over the model's
// input (the tokens when out_side = size / patch), after the same crop and flip.
void crop_resize_map(const float* map, int grid_h, int grid_w, int cell, const CropBox& crop, int size, int out_side,
                     float* out);

// A box (x0, y0, x1, y1, working-frame pixels) in units of `unit` input pixels after the crop and
// flip, clamped to the input.
std::array<float, 4> crop_box(const std::array<float, 4>& box, const CropBox& crop, int size, int unit);

}  // namespace trainer
