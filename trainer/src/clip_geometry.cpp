#include <trainer/clip_geometry.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <utility>

namespace trainer {

std::vector<int> sample_frame_indices(int video_frames, int clip_frames, int stride, Rng& rng) {
  const int span = (clip_frames - 1) * stride + 1;
  const int start =
      video_frames > span ? static_cast<int>(rng.uniform(static_cast<std::uint64_t>(video_frames - span + 1))) : 0;
  std::vector<int> indices(clip_frames);
  for (int k = 0; k < clip_frames; ++k) indices[k] = std::min(start + k * stride, video_frames - 1);
  return indices;
}

CropBox multi_scale_crop(int width, int height, const std::vector<double>& scales, int max_distort, int size, bool flip,
                         Rng& rng) {
  const int base = std::min(width, height);
  std::vector<int> sides;
  for (double s : scales) {
    const int side = static_cast<int>(base * s);
    sides.push_back(std::abs(side - size) < 3 ? std::min(size, base) : side);
  }
  std::vector<std::pair<int, int>> pairs;  // (w, h)
  for (std::size_t i = 0; i < sides.size(); ++i)
    for (std::size_t j = 0; j < sides.size(); ++j)
      if (std::abs(static_cast<int>(i) - static_cast<int>(j)) <= max_distort) pairs.emplace_back(sides[j], sides[i]);
  const auto [w, h] = pairs[rng.uniform(pairs.size())];
  const int ws = (width - w) / 4, hs = (height - h) / 4;
  const int positions[13][2] = {{0, 0}, {4, 0}, {0, 4}, {4, 4}, {2, 2}, {0, 2}, {4, 2},
                                {2, 4}, {2, 0}, {1, 1}, {3, 1}, {1, 3}, {3, 3}};
  const auto& p = positions[rng.uniform(13)];
  CropBox crop{p[0] * ws, p[1] * hs, w, h, false};
  if (flip) crop.flip = rng.uniform(2) == 1;
  return crop;
}

namespace {

// Source coordinate of output sample `o` (0..size-1) along one axis: pixel centres aligned.
double source_coordinate(int o, int size, int crop_origin, int crop_extent, bool mirrored) {
  const int oo = mirrored ? size - 1 - o : o;
  return crop_origin + (oo + 0.5) * crop_extent / size - 0.5;
}

struct Tap {
  int i0, i1;
  float w1;  // weight of i1
};

Tap tap(double x, int n) {
  x = std::clamp(x, 0.0, static_cast<double>(n - 1));
  const int i0 = static_cast<int>(std::floor(x));
  const int i1 = std::min(i0 + 1, n - 1);
  return {i0, i1, static_cast<float>(x - i0)};
}

}  // namespace

void crop_resize_rgb(const mme::RgbImage& image, const CropBox& crop, int size, std::uint8_t* out) {
  // Fixed-point weights (11 bits per axis): exact integer arithmetic, the same result everywhere,
  // and no float rounding call per value (which took half of the loader's time).
  constexpr int kBits = 11;
  constexpr std::uint32_t kOne = 1u << kBits;
  struct FixedTap {
    int i0, i1;
    std::uint32_t w1;
  };
  auto fixed = [&](const Tap& t) { return FixedTap{t.i0, t.i1, static_cast<std::uint32_t>(std::lround(t.w1 * kOne))}; };
  std::vector<FixedTap> xs(size), ys(size);
  for (int o = 0; o < size; ++o) {
    xs[o] = fixed(tap(source_coordinate(o, size, crop.x0, crop.width, crop.flip), image.width));
    ys[o] = fixed(tap(source_coordinate(o, size, crop.y0, crop.height, false), image.height));
  }
  const std::size_t stride = static_cast<std::size_t>(image.width) * 3;
  for (int v = 0; v < size; ++v) {
    const std::uint8_t* r0 = image.pixels.data() + ys[v].i0 * stride;
    const std::uint8_t* r1 = image.pixels.data() + ys[v].i1 * stride;
    const std::uint32_t wy1 = ys[v].w1, wy0 = kOne - wy1;
    std::uint8_t* o = out + static_cast<std::size_t>(v) * size * 3;
    for (int u = 0; u < size; ++u) {
      const FixedTap& t = xs[u];
      const std::uint32_t wx1 = t.w1, wx0 = kOne - wx1;
      const std::uint8_t *a = r0 + t.i0 * 3, *b = r0 + t.i1 * 3, *c = r1 + t.i0 * 3, *d = r1 + t.i1 * 3;
      for (int k = 0; k < 3; ++k) {
        const std::uint32_t top = a[k] * wx0 + b[k] * wx1, bottom = c[k] * wx0 + d[k] * wx1;
        o[u * 3 + k] = static_cast<std::uint8_t>((top * wy0 + bottom * wy1 + (1u << (2 * kBits - 1))) >> (2 * kBits));
      }
    }
  }
}

void crop_resize_trajectories(const float* displacement, const std::uint8_t* valid, int grid_h, int grid_w, int steps,
                              int cell, const CropBox& crop, int size, float* out_displacement,
                              std::uint8_t* out_valid) {
  const int g = size / cell;
  const float zoom_x = static_cast<float>(size) / crop.width * (crop.flip ? -1.0f : 1.0f);
  const float zoom_y = static_cast<float>(size) / crop.height;
  const int values = steps * 2;
  // Seed (i, j) of the output sits at output pixel cell/2 + cell j; find where that pixel comes
  // from in the working frame, and read the seed grid there.
  auto grid_coordinate = [&](int o, bool x) {
    const int pixel = cell / 2 + cell * o;
    const double src = x ? source_coordinate(pixel, size, crop.x0, crop.width, crop.flip)
                         : source_coordinate(pixel, size, crop.y0, crop.height, false);
    return (src - cell / 2) / cell;
  };
  std::vector<Tap> xs(g), ys(g);
  std::vector<int> nx(g), ny(g);
  for (int o = 0; o < g; ++o) {
    const double gx = grid_coordinate(o, true), gy = grid_coordinate(o, false);
    xs[o] = tap(gx, grid_w);
    ys[o] = tap(gy, grid_h);
    nx[o] = std::clamp(static_cast<int>(std::lround(gx)), 0, grid_w - 1);
    ny[o] = std::clamp(static_cast<int>(std::lround(gy)), 0, grid_h - 1);
  }
  for (int i = 0; i < g; ++i) {
    const Tap& ty = ys[i];
    for (int j = 0; j < g; ++j) {
      const Tap& tx = xs[j];
      const float* a = displacement + (static_cast<std::size_t>(ty.i0) * grid_w + tx.i0) * values;
      const float* b = displacement + (static_cast<std::size_t>(ty.i0) * grid_w + tx.i1) * values;
      const float* c = displacement + (static_cast<std::size_t>(ty.i1) * grid_w + tx.i0) * values;
      const float* d = displacement + (static_cast<std::size_t>(ty.i1) * grid_w + tx.i1) * values;
      float* out = out_displacement + (static_cast<std::size_t>(i) * g + j) * values;
      for (int k = 0; k < values; ++k) {
        const float top = a[k] + (b[k] - a[k]) * tx.w1;
        const float bottom = c[k] + (d[k] - c[k]) * tx.w1;
        out[k] = (top + (bottom - top) * ty.w1) * (k % 2 == 0 ? zoom_x : zoom_y);
      }
      out_valid[static_cast<std::size_t>(i) * g + j] = valid[static_cast<std::size_t>(ny[i]) * grid_w + nx[j]];
    }
  }
}

void crop_resize_map(const float* map, int grid_h, int grid_w, int cell, const CropBox& crop, int size, int out_side,
                     float* out) {
  const double step = static_cast<double>(size) / out_side;
  auto grid_coordinate = [&](int o, bool x) {
    const int pixel = static_cast<int>(step * o + step / 2);
    const double src = x ? source_coordinate(pixel, size, crop.x0, crop.width, crop.flip)
                         : source_coordinate(pixel, size, crop.y0, crop.height, false);
    return (src - cell / 2) / cell;
  };
  std::vector<Tap> xs(out_side);  // the same columns for every row
  for (int j = 0; j < out_side; ++j) xs[j] = tap(grid_coordinate(j, true), grid_w);
  for (int i = 0; i < out_side; ++i) {
    const Tap ty = tap(grid_coordinate(i, false), grid_h);
    for (int j = 0; j < out_side; ++j) {
      const Tap& tx = xs[j];
      const float a = map[ty.i0 * grid_w + tx.i0], b = map[ty.i0 * grid_w + tx.i1];
      const float c = map[ty.i1 * grid_w + tx.i0], d = map[ty.i1 * grid_w + tx.i1];
      const float top = a + (b - a) * tx.w1, bottom = c + (d - c) * tx.w1;
      out[i * out_side + j] = top + (bottom - top) * ty.w1;
    }
  }
}

std::array<float, 4> crop_box(const std::array<float, 4>& box, const CropBox& crop, int size, int unit) {
  const float zx = static_cast<float>(size) / crop.width, zy = static_cast<float>(size) / crop.height;
  float x0 = (box[0] - crop.x0) * zx, x1 = (box[2] - crop.x0) * zx;
  const float y0 = (box[1] - crop.y0) * zy, y1 = (box[3] - crop.y0) * zy;
  if (crop.flip) {
    const float m0 = size - x1, m1 = size - x0;
    x0 = m0;
    x1 = m1;
  }
  auto clamp = [&](float v) { return std::clamp(v, 0.0f, static_cast<float>(size)) / unit; };
  return {clamp(x0), clamp(y0), clamp(x1), clamp(y1)};
}

}  // namespace trainer
