#include <trainer/random_mask.h>

#include <algorithm>
#include <numeric>

namespace trainer {

void RandomMask::generate(const MaskContext& context, Rng& rng, std::uint8_t* mask) const {
  const int n = context.tokens();
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  shuffle(order, rng);
  std::fill(mask, mask + n, 0);
  for (int k = 0; k < masked_count(context); ++k) mask[order[k]] = 1;
}

}  // namespace trainer
