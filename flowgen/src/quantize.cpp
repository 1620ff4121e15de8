#include <flowgen/quantize.h>
#include <mme/quantize.h>

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
  std::int64_t saturated = 0;
  for (int y = 0; y < flow.rows; ++y)
    saturated += mme::quantize(flow.ptr<float>(y), static_cast<std::size_t>(flow.cols) * 2, step,
                               out + static_cast<std::size_t>(y) * flow.cols * 2);
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
