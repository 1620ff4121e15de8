#include <trainer/mixup.h>

#include <algorithm>
#include <cmath>

namespace trainer {

torch::Tensor mixed_targets(const torch::Tensor& labels, int classes, double lambda, double smoothing) {
  const double off = smoothing / classes, on = 1.0 - smoothing + off;
  auto one_hot = [&](const torch::Tensor& l) {
    return torch::full({l.size(0), classes}, off, torch::TensorOptions().device(l.device()))
        .scatter_(1, l.unsqueeze(1), on);
  };
  return one_hot(labels) * lambda + one_hot(labels.flip(0)) * (1 - lambda);
}

Mixup::Result Mixup::apply(const torch::Tensor& video, const torch::Tensor& labels, Rng& rng) const {
  Result r;
  r.video = video;
  // Every draw is made in the same order whatever the outcome, as in timm.
  const bool mix = enabled() && rng.uniform01() < probability;
  if (mix) {
    if (mixup > 0 && cutmix > 0) {
      r.cut = rng.uniform01() < switch_probability;
      r.lambda = r.cut ? rng.beta(cutmix, cutmix) : rng.beta(mixup, mixup);
    } else if (mixup > 0) {
      r.lambda = rng.beta(mixup, mixup);
    } else {
      r.cut = true;
      r.lambda = rng.beta(cutmix, cutmix);
    }
  }
  if (r.lambda < 1) {
    if (r.cut) {
      const auto H = video.size(-2), W = video.size(-1);
      const double ratio = std::sqrt(1 - r.lambda);
      const auto cut_h = static_cast<std::int64_t>(H * ratio), cut_w = static_cast<std::int64_t>(W * ratio);
      const auto cy = static_cast<std::int64_t>(rng.uniform(static_cast<std::uint64_t>(H)));
      const auto cx = static_cast<std::int64_t>(rng.uniform(static_cast<std::uint64_t>(W)));
      const auto y0 = std::clamp<std::int64_t>(cy - cut_h / 2, 0, H),
                 y1 = std::clamp<std::int64_t>(cy + cut_h / 2, 0, H);
      const auto x0 = std::clamp<std::int64_t>(cx - cut_w / 2, 0, W),
                 x1 = std::clamp<std::int64_t>(cx + cut_w / 2, 0, W);
      r.video = video.clone();
      using torch::indexing::Ellipsis;
      using torch::indexing::Slice;
      r.video.index_put_({Ellipsis, Slice(y0, y1), Slice(x0, x1)},
                         video.flip(0).index({Ellipsis, Slice(y0, y1), Slice(x0, x1)}));
      r.lambda = 1.0 - static_cast<double>((y1 - y0) * (x1 - x0)) / static_cast<double>(H * W);
    } else {
      r.video = video * r.lambda + video.flip(0) * (1 - r.lambda);
    }
  }
  r.targets = mixed_targets(labels, classes, r.lambda, smoothing);
  return r;
}

}  // namespace trainer
