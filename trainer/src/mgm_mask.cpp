#include <trainer/mgm_mask.h>

#include <algorithm>
#include <numeric>

namespace trainer {

void MgmMask::generate(const MaskContext& context, Rng& rng, std::uint8_t* mask) const {
  const int area = context.rows * context.cols;
  const int n = masked_per_slice(ratio_, context);
  const bool has_motion = static_cast<int>(context.motion.size()) == context.tokens();
  float peak = 0;
  if (has_motion) peak = *std::max_element(context.motion.begin(), context.motion.end());
  // Still clip: the jitter alone decides (random masking per slice).
  const double spread = peak > 0 ? jitter_ * peak : 1.0;
  std::vector<double> score(area);
  std::vector<int> order(area);
  for (int t = 0; t < context.slices; ++t) {
    for (int p = 0; p < area; ++p)
      score[p] = (has_motion && peak > 0 ? context.motion[t * area + p] : 0.0) + spread * rng.uniform01();
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return score[a] > score[b]; });
    std::uint8_t* slice = mask + t * area;
    std::fill(slice, slice + area, 0);
    for (int i = 0; i < n; ++i) slice[order[i]] = 1;
  }
}

}  // namespace trainer
