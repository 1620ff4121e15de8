#include <flowgen/quantize.h>

#include <cmath>
#include <limits>

namespace flowgen {

std::int64_t quantize_flow(const cv::Mat& flow, double step, std::int16_t* out) {
  CV_Assert(flow.type() == CV_32FC2);
  // Fast path (nearly always): every value finite and in range, so OpenCV's vectorised
  // conversion (round half to even, like nearbyint below) gives the same result.
  const double limit = 32767.0 * step;
  if (cv::checkRange(flow, true, nullptr, -limit, limit)) {
    cv::Mat dst(flow.rows, flow.cols, CV_16SC2, out);
    flow.convertTo(dst, CV_16SC2, 1.0 / step);
    return 0;
  }
  const float inv = static_cast<float>(1.0 / step);
  constexpr float lo = std::numeric_limits<std::int16_t>::min(), hi = std::numeric_limits<std::int16_t>::max();
  std::int64_t saturated = 0;
  for (int y = 0; y < flow.rows; ++y) {
    const float* row = flow.ptr<float>(y);
    std::int16_t* dst = out + static_cast<std::size_t>(y) * flow.cols * 2;
    for (int i = 0; i < flow.cols * 2; ++i) {
      const float v = std::nearbyint(row[i] * inv);  // round half to even, as the FPU does
      if (std::isnan(v)) {
        dst[i] = 0;
        ++saturated;
      } else if (v < lo || v > hi) {
        dst[i] = static_cast<std::int16_t>(v < lo ? lo : hi);
        ++saturated;
      } else {
        dst[i] = static_cast<std::int16_t>(v);
      }
    }
  }
  return saturated;
}

cv::Mat dequantize_flow(const std::int16_t* values, int rows, int cols, double step) {
  cv::Mat flow(rows, cols, CV_32FC2);
  const float s = static_cast<float>(step);
  for (int y = 0; y < rows; ++y) {
    float* row = flow.ptr<float>(y);
    const std::int16_t* src = values + static_cast<std::size_t>(y) * cols * 2;
    for (int i = 0; i < cols * 2; ++i) row[i] = src[i] * s;
  }
  return flow;
}

}  // namespace flowgen
