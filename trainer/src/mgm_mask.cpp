#include <trainer/clip_geometry.h>
#include <trainer/mgm_mask.h>

#include <algorithm>
#include <numeric>

namespace trainer {

std::vector<float> MgmMask::token_motion(const ClipMotion& m, const MaskContext& grid) {
  const int side = grid.rows, S = m.img_size;
  // Flow pixels of the working frame -> input pixels of the clip.
  const float zoom = 0.5f * (static_cast<float>(S) / m.crop.width + static_cast<float>(S) / m.crop.height);
  std::vector<float> motion(static_cast<std::size_t>(grid.slices) * side * side, 0.0f);
  std::vector<float> tokens(static_cast<std::size_t>(side) * side);
  for (int k = 0; k < grid.slices; ++k)
    for (int f = 0; f < m.tubelet; ++f) {
      crop_resize_map((*m.maps)[k * m.tubelet + f].data(), m.grid_h, m.grid_w, m.cell, m.crop, S, side, tokens.data());
      for (int i = 0; i < side * side; ++i) motion[k * side * side + i] += tokens[i] * zoom / m.tubelet;
    }
  return motion;
}

void MgmMask::generate(const MaskContext& context, Rng& rng, std::uint8_t* mask) const {
  rank(context, context.motion ? token_motion(*context.motion, context) : std::vector<float>{}, rng, mask);
}

void MgmMask::rank(const MaskContext& context, const std::vector<float>& motion, Rng& rng, std::uint8_t* mask) const {
  const int area = context.rows * context.cols;
  const int n = masked_per_slice(ratio_, context);
  const bool has_motion = static_cast<int>(motion.size()) == context.tokens();
  float peak = 0;
  if (has_motion) peak = *std::max_element(motion.begin(), motion.end());
  // Still clip: the jitter alone decides (random masking per slice).
  const double spread = peak > 0 ? jitter_ * peak : 1.0;
  std::vector<double> score(area);
  std::vector<int> order(area);
  for (int t = 0; t < context.slices; ++t) {
    for (int p = 0; p < area; ++p)
      score[p] = (has_motion && peak > 0 ? motion[t * area + p] : 0.0) + spread * rng.uniform01();
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return score[a] > score[b]; });
    std::uint8_t* slice = mask + t * area;
    std::fill(slice, slice + area, 0);
    for (int i = 0; i < n; ++i) slice[order[i]] = 1;
  }
}

}  // namespace trainer
