#include <trainer/random_erasing.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

namespace trainer {

namespace {
// ImageNet's normalisation (imagenet_normalise), in 0..255 units.
constexpr std::array<double, 3> kMean{0.485 * 255, 0.456 * 255, 0.406 * 255};
constexpr std::array<double, 3> kStd{0.229 * 255, 0.224 * 255, 0.225 * 255};
constexpr int kAttempts = 10;  // timm's
}  // namespace

double RandomErasing::apply(std::uint8_t* frames, int count, int width, int height, Rng& rng) const {
  if (rng.uniform01() >= probability) return 0;
  const double area = static_cast<double>(width) * height;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    const double target = area * (min_area + (max_area - min_area) * rng.uniform01());
    const double log_min = std::log(min_aspect), log_max = std::log(1 / min_aspect);
    const double aspect = std::exp(log_min + (log_max - log_min) * rng.uniform01());
    const int h = static_cast<int>(std::lround(std::sqrt(target * aspect)));
    const int w = static_cast<int>(std::lround(std::sqrt(target / aspect)));
    if (w >= width || h >= height || w < 1 || h < 1) continue;
    const int top = static_cast<int>(rng.uniform(static_cast<std::uint64_t>(height - h + 1)));
    const int left = static_cast<int>(rng.uniform(static_cast<std::uint64_t>(width - w + 1)));
    std::vector<std::uint8_t> noise(static_cast<std::size_t>(w) * h * 3);
    for (std::size_t i = 0; i < noise.size(); ++i) {
      const int c = static_cast<int>(i % 3);
      noise[i] = static_cast<std::uint8_t>(std::clamp(std::lround(kMean[c] + kStd[c] * rng.normal()), 0L, 255L));
    }
    for (int t = 0; t < count; ++t)
      for (int y = 0; y < h; ++y) {
        auto* row = frames + ((static_cast<std::size_t>(t) * height + top + y) * width + left) * 3;
        std::copy_n(noise.data() + static_cast<std::size_t>(y) * w * 3, static_cast<std::size_t>(w) * 3, row);
      }
    return static_cast<double>(w) * h / area;
  }
  return 0;
}

}  // namespace trainer
