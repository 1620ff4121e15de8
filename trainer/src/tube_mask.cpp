#include <trainer/tube_mask.h>

#include <numeric>

namespace trainer {

int TubeMask::masked_count(const MaskContext& grid) const {
  return masked_per_slice(ratio_, grid) * grid.slices;
}

void TubeMask::generate(const MaskContext& context, Rng& rng, std::uint8_t* mask) const {
  const int area = context.rows * context.cols;
  std::vector<int> order(area);
  std::iota(order.begin(), order.end(), 0);
  shuffle(order, rng);
  std::vector<std::uint8_t> spatial(area, 0);
  for (int k = 0; k < masked_per_slice(ratio_, context); ++k) spatial[order[k]] = 1;
  repeat_over_slices(spatial, context, mask);
}

}  // namespace trainer
