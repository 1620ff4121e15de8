#include <flowgen/quantize.h>
#include <mme/quantize.h>

namespace flowgen {

std::int64_t quantize_flow(const cv::Mat& flow, double step, std::int16_t* out) {
  CV_Assert(flow.type() == CV_32FC2);
  // mme::quantize is vectorised for the common case (every value finite and in range) itself:
  // checking the range first with OpenCV cost as much as the conversion.
  if (flow.isContinuous()) return mme::quantize(flow.ptr<float>(), flow.total() * 2, step, out);
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
