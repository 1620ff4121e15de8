#include <trainer/pixel_target.h>

namespace trainer {

torch::Tensor PixelTarget::compute(const TargetInput& input) const {
  const auto tubes = to_tubes(input.frames.to(torch::kFloat32), tubelet_, patch_);  // [B, N, P, C]
  const auto mean = tubes.mean(2, /*keepdim=*/true);
  const auto std = tubes.var(2, /*unbiased=*/true, /*keepdim=*/true).sqrt();
  const auto normalised = (tubes - mean) / (std + 1e-6);
  return normalised.flatten(2);  // (value, channel) order, as VideoMAE's '(p0 p1 p2 c)'
}

}  // namespace trainer
