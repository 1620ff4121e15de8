// The MOFO map's motion boundaries against OpenCV's own Sobel, and its block means.
#include <trajgen/motion_box.h>

#include <catch2/catch_test_macros.hpp>

#include <opencv2/imgproc.hpp>
#include <random>

namespace {

// The rule as OpenCV composes it: Sobel of each channel, squares summed, square root.
cv::Mat opencv_boundary(const cv::Mat& field) {
  std::vector<cv::Mat> uv;
  cv::split(field, uv);
  cv::Mat out = cv::Mat::zeros(field.size(), CV_32F), d;
  for (const auto& c : uv)
    for (auto [dx, dy] : {std::pair{1, 0}, std::pair{0, 1}}) {
      cv::Sobel(c, d, CV_32F, dx, dy, 3);
      cv::accumulateSquare(d, out);
    }
  cv::sqrt(out, out);
  return out;
}

}  // namespace

TEST_CASE("motion boundaries equal OpenCV's Sobel magnitude, borders included", "[motion_box]") {
  std::mt19937 rng(4);
  std::normal_distribution<float> n(0, 3);
  for (auto size : {cv::Size(80, 60), cv::Size(7, 5), cv::Size(1, 6), cv::Size(6, 1), cv::Size(2, 2), cv::Size(1, 1)}) {
    INFO(size.width << "x" << size.height);
    cv::Mat field(size, CV_32FC2);
    for (auto it = field.begin<cv::Vec2f>(); it != field.end<cv::Vec2f>(); ++it) *it = {n(rng), n(rng)};
    const cv::Mat ours = trajgen::motion_boundary(field, 1), theirs = opencv_boundary(field);
    REQUIRE(ours.size() == theirs.size());
    double scale = 0;
    cv::minMaxLoc(theirs, nullptr, &scale);
    CHECK(cv::norm(ours, theirs, cv::NORM_INF) <= 1e-5 * std::max(1.0, scale));
  }
}

TEST_CASE("the reduced map: means of whole 4x4 blocks of the quantised field", "[motion_box]") {
  // A field whose u is its column index / 8 (1/8-px steps) and v zero: block means are the block
  // centres' u, so the x derivative is constant inside and the y derivative zero.
  const int rows = 18, cols = 35;  // partial blocks at the right and bottom are dropped
  cv::Mat q(rows, cols, CV_16SC2);
  for (int y = 0; y < rows; ++y)
    for (int x = 0; x < cols; ++x) q.at<cv::Vec2s>(y, x) = {static_cast<short>(x), 0};
  const cv::Mat m = trajgen::motion_boundary(q, 4, 0.125f);
  REQUIRE(m.size() == cv::Size(8, 4));
  cv::Mat means(4, 8, CV_32FC2);
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 8; ++j) means.at<cv::Vec2f>(i, j) = {(4 * j + 1.5f) * 0.125f, 0.f};
  CHECK(cv::norm(m, opencv_boundary(means), cv::NORM_INF) < 1e-5);
  // Inside, u rises 0.5 px per block: Sobel's x derivative is (1 + 2 + 1) x (u(j+1) - u(j-1)) = 4.
  CHECK(std::abs(m.at<float>(1, 3) - 4.0f) < 1e-5);
}

TEST_CASE("the box holds all the motion at the left edge, whatever the map's width", "[motion_box]") {
  // Two moving cells in the first columns of maps of every width: OpenCV 4.6's boundingRect on a
  // mask missed the second one where a row did not start on a 4-byte boundary (opencv#24217).
  const trajgen::MotionBoxParams p;
  for (int cols = 4; cols < 40; ++cols)
    for (int row = 0; row < 16; ++row) {
      INFO("map 16x" << cols << ", motion at row " << row << ", columns 0-1");
      cv::Mat map = cv::Mat::zeros(16, cols, CV_32F);
      map(cv::Rect(0, row, 2, 1)) = 1.0f;
      bool fallback = true;
      const auto box = trajgen::box_from_map(map, cols * 4, 64, p, fallback);
      REQUIRE_FALSE(fallback);
      CHECK(box == trajgen::Box{0, 4.f * static_cast<float>(row), 8, 4.f * static_cast<float>(row + 1)});
    }
}
