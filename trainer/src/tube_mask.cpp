#include <trainer/tube_mask.h>

#include <numeric>

namespace trainer {

int TubeMask::masked_count(const MaskContext& grid) const {
  return static_cast<int>(ratio_ * grid.rows * grid.cols) * grid.slices;
}

void TubeMask::generate(const MaskContext& context, Rng& rng, std::uint8_t* mask) const {
  const int area = context.rows * context.cols;
  std::vector<int> order(area);
  std::iota(order.begin(), order.end(), 0);
  shuffle(order, rng);
  std::vector<std::uint8_t> spatial(area, 0);
  for (int k = 0; k < static_cast<int>(ratio_ * area); ++k) spatial[order[k]] = 1;
  for (int t = 0; t < context.slices; ++t) std::copy(spatial.begin(), spatial.end(), mask + t * area);
}

}  // namespace trainer
