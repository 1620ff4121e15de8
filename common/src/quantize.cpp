#include <mme/quantize.h>

#include <cmath>
#include <limits>

namespace mme {

std::int64_t quantize(const float* values, std::size_t n, double step, std::int16_t* out) {
  const float inv = static_cast<float>(1.0 / step);
  constexpr float lo = std::numeric_limits<std::int16_t>::min(), hi = std::numeric_limits<std::int16_t>::max();
  std::int64_t saturated = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const float v = std::nearbyint(values[i] * inv);  // round half to even, as the FPU does
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
