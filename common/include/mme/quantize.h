#pragma once
// Real values stored as int16 steps (flow, trajectories): round half to even, saturate at the
// int16 range, count what saturated (NaN counts and is stored as 0), never wrap.
#include <cstddef>
#include <cstdint>

namespace mme {

// out[i] = round(values[i] / step), saturated; returns the number of saturated values.
std::int64_t quantize(const float* values, std::size_t n, double step, std::int16_t* out);

}  // namespace mme
