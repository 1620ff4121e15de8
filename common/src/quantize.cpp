#include <mme/isa.h>
#include <mme/quantize.h>

#include <cmath>
#include <limits>

namespace mme {
namespace {

std::int64_t quantize_loop(const float* values, std::size_t n, double step, std::int16_t* out) {
  const float inv = static_cast<float>(1.0 / step);
  constexpr float lo = std::numeric_limits<std::int16_t>::min(), hi = std::numeric_limits<std::int16_t>::max();
  std::int64_t saturated = 0;
  // Round half to even without a libm call (std::nearbyint is one on baseline x86-64): adding and
  // subtracting 1.5 x 2^23 leaves the nearest integer, ties to even, for |x| < 2^22 (checked
  // against nearbyint for every such float).
  constexpr float kRound = 12582912.0f;
  // Branch-free, so that the loop vectorises. The rounding trick leaves |x| >= 2^22 at some value
  // at least as large, which saturates as x does. A NaN fails every comparison: it takes 0 and
  // counts as saturated, as do values beyond the int16 range, which take its limit.
  for (std::size_t i = 0; i < n; ++i) {
    const float v = (values[i] * inv + kRound) - kRound;
    const bool below = v < lo;
    const bool above = v > hi;
    const bool inside = (v >= lo) & (v <= hi);
    const float clamped = inside ? v : (below ? lo : (above ? hi : 0.0f));
    out[i] = static_cast<std::int16_t>(static_cast<std::int32_t>(clamped));
    saturated += static_cast<std::int64_t>(!inside);
  }
  return saturated;
}

#if MME_HAVE_X86_64_V3
MME_X86_64_V3 std::int64_t quantize_v3(const float* values, std::size_t n, double step, std::int16_t* out) {
  return quantize_loop(values, n, step, out);
}
#endif

}  // namespace

std::int64_t quantize(const float* values, std::size_t n, double step, std::int16_t* out) {
#if MME_HAVE_X86_64_V3
  if (isa::active() == isa::Level::x86_64_v3) return quantize_v3(values, n, step, out);
#endif
  return quantize_loop(values, n, step, out);
}

}  // namespace mme
