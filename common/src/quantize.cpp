#include <mme/quantize.h>

#include <cmath>
#include <limits>

namespace mme {

std::int64_t quantize(const float* values, std::size_t n, double step, std::int16_t* out) {
  const float inv = static_cast<float>(1.0 / step);
  constexpr float lo = std::numeric_limits<std::int16_t>::min(), hi = std::numeric_limits<std::int16_t>::max();
  std::int64_t saturated = 0;
  // Round half to even without a libm call (std::nearbyint is one on baseline x86-64): adding and
  // subtracting 1.5 x 2^23 leaves the nearest integer, ties to even, for |x| < 2^22 (checked
  // against nearbyint for every such float); larger values saturate either way, NaN stays NaN.
  constexpr float kRound = 12582912.0f;
  for (std::size_t i = 0; i < n; ++i) {
    const float x = values[i] * inv;
    const float v = std::fabs(x) < 4194304.0f ? (x + kRound) - kRound : x;
    if (std::isnan(v)) {
      out[i] = 0;
      ++saturated;
    } else if (v < lo || v > hi) {
      out[i] = static_cast<std::int16_t>(v < lo ? lo : hi);
      ++saturated;
    } else {
      out[i] = static_cast<std::int16_t>(v);
    }
  }
  return saturated;
}

}  // namespace mme
