#include <trainer/mofo_mask.h>

#include <algorithm>
#include <cmath>

namespace trainer {

int MofoMask::masked_count(const MaskContext& grid) const {
  return masked_per_slice(ratio_, grid) * grid.slices;
}

std::vector<int> MofoMask::inside(const MaskContext& c) {
  std::vector<int> positions;
  for (int r = 0; r < c.rows; ++r)
    for (int q = 0; q < c.cols; ++q)
      if (q + 0.5f >= c.box[0] && q + 0.5f < c.box[2] && r + 0.5f >= c.box[1] && r + 0.5f < c.box[3])
        positions.push_back(r * c.cols + q);
  return positions;
}

void MofoMask::generate(const MaskContext& context, Rng& rng, std::uint8_t* mask) const {
  const int area = context.rows * context.cols;
  const int n = masked_per_slice(ratio_, context);
  auto in = inside(context);
  std::vector<std::uint8_t> is_inside(area, 0);
  for (int p : in) is_inside[p] = 1;
  std::vector<int> out;
  for (int p = 0; p < area; ++p)
    if (!is_inside[p]) out.push_back(p);
  shuffle(in, rng);
  shuffle(out, rng);
  int k = std::min(n, static_cast<int>(std::floor(inside_share_ * static_cast<double>(in.size()))));
  k = std::max(k, n - static_cast<int>(out.size()));  // a box covering nearly everything
  std::vector<std::uint8_t> spatial(area, 0);
  for (int i = 0; i < k; ++i) spatial[in[i]] = 1;
  for (int i = 0; i < n - k; ++i) spatial[out[i]] = 1;
  repeat_over_slices(spatial, context, mask);
}

}  // namespace trainer
