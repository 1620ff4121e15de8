#pragma once
// Known motion of a real frame, for the flow accuracy tests (OpenCV's backends and the LibTorch
// TV-L1): a real frame, warped copies of it whose true forward flow is known, and the error measure.
#include <mme/video_reader.h>

#include <catch2/catch_test_macros.hpp>

#include <cmath>
#include <functional>
#include <opencv2/imgproc.hpp>

#include "test_support.h"

namespace mme::test {

using Field = std::function<cv::Vec2f(float x, float y)>;

// A real, textured frame at the benchmark working size (340x256, gray).
inline cv::Mat real_frame() {
  static const cv::Mat frame = [] {
    mme::VideoReaderOptions o;
    o.format = mme::PixelFormat::gray8;
    mme::VideoReader reader(sample("python3-imageio/cockatoo.mp4"), o);
    mme::Frame f;
    REQUIRE(reader.read(f));
    cv::Mat full(f.height, f.width, CV_8UC1, f.pixels.data());
    cv::Mat small;
    cv::resize(full, small, {340, 256}, 0, 0, cv::INTER_AREA);
    return small.clone();
  }();
  return frame;
}

// Makes frame1 from frame0 so that the FORWARD flow frame0 -> frame1 is `forward` (x + F(x) in
// frame1 shows what x showed in frame0). Frame1 is sampled backwards: frame1(y) = frame0(y - F(x))
// with x = y - F(x) solved by fixed-point iteration (F is smooth and small).
inline void warp(const cv::Mat& frame0, const Field& forward, cv::Mat& frame1, cv::Mat& truth) {
  cv::Mat map_x(frame0.size(), CV_32FC1), map_y(frame0.size(), CV_32FC1);
  truth.create(frame0.size(), CV_32FC2);
  for (int y = 0; y < frame0.rows; ++y)
    for (int x = 0; x < frame0.cols; ++x) {
      float sx = x, sy = y;
      for (int it = 0; it < 30; ++it) {
        const auto f = forward(sx, sy);
        sx = x - f[0];
        sy = y - f[1];
      }
      map_x.at<float>(y, x) = sx;
      map_y.at<float>(y, x) = sy;
      truth.at<cv::Vec2f>(y, x) = forward(x, y);
    }
  cv::remap(frame0, frame1, map_x, map_y, cv::INTER_CUBIC, cv::BORDER_REFLECT);
}

// Mean end-point error away from the border (where content enters or leaves the picture).
inline double mean_epe(const cv::Mat& flow, const cv::Mat& truth, int margin = 16) {
  double sum = 0;
  int n = 0;
  for (int y = margin; y < flow.rows - margin; ++y)
    for (int x = margin; x < flow.cols - margin; ++x) {
      const auto d = flow.at<cv::Vec2f>(y, x) - truth.at<cv::Vec2f>(y, x);
      sum += std::hypot(d[0], d[1]);
      ++n;
    }
  return sum / n;
}

inline const Field translation = [](float, float) { return cv::Vec2f(2.3f, -1.2f); };
// 2 degrees about the centre.
inline const Field rotation = [](float x, float y) {
  const float a = 2.0f * static_cast<float>(CV_PI) / 180, cx = 170, cy = 128;
  const float dx = x - cx, dy = y - cy;
  return cv::Vec2f(std::cos(a) * dx - std::sin(a) * dy - dx, std::sin(a) * dx + std::cos(a) * dy - dy);
};
// A smooth non-rigid field: two sine waves, up to 2.5 px.
inline const Field smooth = [](float x, float y) {
  return cv::Vec2f(2.5f * std::sin(2 * CV_PI * y / 256) * std::cos(2 * CV_PI * x / 340),
                   1.5f * std::cos(2 * CV_PI * x / 170));
};

}  // namespace mme::test
