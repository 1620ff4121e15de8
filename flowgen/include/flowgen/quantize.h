#pragma once
// Flow is stored as int16 steps of `step` pixels (1/8 px by default: +-4096 px range, an error of
// at most 1/16 px, far below any flow algorithm's own error). Values outside the range saturate
// and are counted, never wrapped.
#include <opencv2/core.hpp>

#include <cstdint>

namespace flowgen {

// `flow` is CV_32FC2; `out` receives rows*cols*2 values. Returns the number of saturated values
// (NaN counts as saturated and is stored as 0).
std::int64_t quantize_flow(const cv::Mat& flow, double step, std::int16_t* out);
// The inverse: CV_32FC2 from stored values.
cv::Mat dequantize_flow(const std::int16_t* values, int rows, int cols, double step);

}  // namespace flowgen
