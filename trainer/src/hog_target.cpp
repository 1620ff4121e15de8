#include <trainer/hog_target.h>

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

namespace trainer {

torch::Tensor hog_features(const torch::Tensor& images) {
  const auto x = images.to(torch::kFloat32);
  const auto N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const auto opts = x.options();
  const auto gx_kernel =
      torch::tensor({-1.0f, 0.0f, 1.0f, -2.0f, 0.0f, 2.0f, -1.0f, 0.0f, 1.0f}, opts).reshape({1, 1, 3, 3});
  const auto gy_kernel = gx_kernel.transpose(2, 3).contiguous();
  const auto kernels = torch::cat({gx_kernel, gy_kernel}).repeat({C, 1, 1, 1});  // [2C, 1, 3, 3]
  const auto padded =
      torch::nn::functional::pad(x, torch::nn::functional::PadFuncOptions({1, 1, 1, 1}).mode(torch::kReflect));
  const auto g = torch::nn::functional::conv2d(padded, kernels, torch::nn::functional::Conv2dFuncOptions().groups(C))
                     .reshape({N, C, 2, H, W});
  const auto gx = g.select(2, 0), gy = g.select(2, 1);
  const auto magnitude = (gx * gx + gy * gy).sqrt();
  // Unsigned orientation in [0, pi); bin b is centred at (b + 0.5) x pi / bins.
  auto angle = torch::atan2(gy, gx);
  angle = torch::where(angle < 0, angle + M_PI, angle);
  angle = torch::where(angle >= M_PI, angle - M_PI, angle);
  const auto position = angle * (kHogBins / M_PI) - 0.5;
  const auto lower = position.floor();
  const auto upper_share = position - lower;
  const auto lower_bin = torch::remainder(lower, kHogBins).to(torch::kLong).unsqueeze(2);
  const auto upper_bin = torch::remainder(lower + 1, kHogBins).to(torch::kLong).unsqueeze(2);
  auto votes = torch::zeros({N, C, kHogBins, H, W}, opts);
  votes.scatter_add_(2, lower_bin, (magnitude * (1 - upper_share)).unsqueeze(2));
  votes.scatter_add_(2, upper_bin, (magnitude * upper_share).unsqueeze(2));
  return torch::nn::functional::avg_pool2d(votes.reshape({N, C * kHogBins, H, W}),
                                           torch::nn::functional::AvgPool2dFuncOptions(kHogCell))
      .reshape({N, C, kHogBins, H / kHogCell, W / kHogCell});
}

HogTarget::HogTarget(const TrainConfig& config) : tubelet_(config.model.tubelet), patch_(config.model.patch) {
  if (patch_ % kHogCell)
    throw std::invalid_argument(
        fmt::format("the hog target needs model.patch ({}) to be a multiple of {}", patch_, kHogCell));
}

torch::Tensor HogTarget::compute(const TargetInput& input) const {
  // The second frame of each tube.
  const auto frames = input.frames.to(torch::kFloat32).slice(2, tubelet_ > 1 ? 1 : 0, torch::nullopt, tubelet_);
  const auto B = frames.size(0), T = frames.size(2), H = frames.size(3), W = frames.size(4);
  const auto hog = hog_features(frames.transpose(1, 2).reshape({B * T, 3, H, W}));  // [BT, 3, 9, H/8, W/8]
  const int p = patch_ / kHogCell;
  return hog.reshape({B, T, 3, kHogBins, H / patch_, p, W / patch_, p})
      .permute({0, 1, 4, 6, 2, 3, 5, 7})  // B, t, row, col, channel, bin, cell row, cell col
      .reshape({B, T * (H / patch_) * (W / patch_), channels()});
}

}  // namespace trainer
