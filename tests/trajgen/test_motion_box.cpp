// The MOFO map's motion boundaries against OpenCV's own Sobel, and its block means.
#include <trajgen/motion_box.h>
#include <trajgen/motion_map.h>

#include <catch2/catch_test_macros.hpp>

#include <array>
#include <cstring>
#include <opencv2/imgproc.hpp>
#include <random>

#include "test_support.h"

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

TEST_CASE("a map one cell wide: the box holds the thresholded motion, not the blurred regions", "[motion_box]") {
  // A map of one column or one row takes the region blur at its own size, on a copy: blurred in
  // place, the map's motion would spread over the whole region and the box with it.
  const trajgen::MotionBoxParams p;
  for (const bool column : {true, false}) {
    INFO((column ? "40x1" : "1x40") << " map, motion at cells 18-21");
    cv::Mat map = cv::Mat::zeros(column ? 40 : 1, column ? 1 : 40, CV_32F);
    for (int k = 18; k < 22; ++k) map.at<float>(column ? k : 0, column ? 0 : k) = 1.0f;
    bool fallback = true;
    const auto box = trajgen::box_from_map(map, column ? 4 : 160, column ? 160 : 4, p, fallback);
    REQUIRE_FALSE(fallback);
    const trajgen::Box expected = column ? trajgen::Box{0, 72, 4, 88} : trajgen::Box{72, 0, 88, 4};
    CHECK(box == expected);
  }
}

TEST_CASE("motion boundaries and cell magnitudes: the x86-64-v3 builds give the baseline builds' values",
          "[motion_box][isa]") {
  std::mt19937 rng(9);
  std::normal_distribution<float> n(0, 300);
  for (auto size : {cv::Size(436, 320), cv::Size(83, 61), cv::Size(5, 9)}) {
    INFO(size.width << "x" << size.height);
    cv::Mat q(size, CV_16SC2), pixels;
    for (auto it = q.begin<cv::Vec2s>(); it != q.end<cv::Vec2s>(); ++it)
      *it = {cv::saturate_cast<short>(n(rng)), cv::saturate_cast<short>(n(rng))};
    q.convertTo(pixels, CV_32FC2, 1.0 / 8);
    for (int downscale : {1, 4}) {
      const auto [baseline, v3] = mme::test::on_both_kernel_builds([&] {
        return std::array{trajgen::motion_boundary(q, downscale, 0.125f), trajgen::motion_boundary(pixels, downscale)};
      });
      for (int i = 0; i < 2; ++i) {
        REQUIRE(v3[i].size() == baseline[i].size());
        CHECK(std::memcmp(v3[i].data, baseline[i].data, baseline[i].total() * sizeof(float)) == 0);
      }
    }
    const int gh = size.height / 8, gw = size.width / 8;
    const auto [baseline, v3] = mme::test::on_both_kernel_builds([&] {
      std::vector<float> cells(static_cast<std::size_t>(gh) * gw);
      if (!cells.empty()) trajgen::cell_magnitude(q, 0.125f, 8, gh, gw, cells.data());
      return cells;
    });
    CHECK(std::memcmp(v3.data(), baseline.data(), baseline.size() * sizeof(float)) == 0);
  }
}

TEST_CASE("cell magnitudes: the mean of |v| over each whole cell", "[motion_box]") {
  // Cell (i, j) holds vectors of length 5 (3, 4) and 0 in a checkerboard (all 5 for cells of one
  // pixel), scaled by (i + j + 1); the partial cells at the right and bottom are ignored. Cell
  // sizes with their own unrolled loop (2, 4, 8) and without (1, 3).
  for (const int cell : {1, 2, 3, 4, 8}) {
    INFO("cell " << cell);
    const int gh = 3, gw = 5;
    cv::Mat q(gh * cell + 2, gw * cell + 3, CV_16SC2, cv::Scalar(100, 100));
    for (int i = 0; i < gh; ++i)
      for (int j = 0; j < gw; ++j)
        for (int y = 0; y < cell; ++y)
          for (int x = 0; x < cell; ++x) {
            const short k = static_cast<short>((x + y) % 2 && cell > 1 ? 0 : i + j + 1);
            q.at<cv::Vec2s>(i * cell + y, j * cell + x) = {static_cast<short>(3 * k), static_cast<short>(-4 * k)};
          }
    const float on = cell == 1 ? 1.0f : (cell * cell / 2 + (cell % 2)) / static_cast<float>(cell * cell);
    std::vector<float> m(gh * gw);
    trajgen::cell_magnitude(q, 0.5f, cell, gh, gw, m.data());
    for (int i = 0; i < gh; ++i)
      for (int j = 0; j < gw; ++j)
        CHECK(std::abs(m[i * gw + j] - 0.5f * 5.0f * on * static_cast<float>(i + j + 1)) < 1e-5f);
    const int too_many = q.rows / cell + 1;  // one row of cells more than the field holds
    std::vector<float> room(static_cast<std::size_t>(too_many) * gw);
    CHECK_THROWS_AS(trajgen::cell_magnitude(q, 0.5f, cell, too_many, gw, room.data()), std::invalid_argument);
  }
}

TEST_CASE("sum_maps adds the maps in order, as cv::add one after the other", "[motion_box]") {
  std::mt19937 rng(3);
  std::exponential_distribution<float> e(1.0f);
  std::vector<cv::Mat> maps;
  for (int k = 0; k < 8; ++k) {
    maps.emplace_back(61, 83, CV_32F);
    for (auto it = maps.back().begin<float>(); it != maps.back().end<float>(); ++it) *it = e(rng) * (k + 1);
  }
  cv::Mat expected = maps[0].clone();
  for (int k = 1; k < 8; ++k) cv::add(expected, maps[k], expected);
  const cv::Mat summed = trajgen::sum_maps(maps.data(), 8);
  CHECK(std::memcmp(summed.data, expected.data, expected.total() * sizeof(float)) == 0);
  CHECK_THROWS_AS(trajgen::sum_maps(maps.data(), 0), std::invalid_argument);
  const auto [baseline, v3] = mme::test::on_both_kernel_builds([&] { return trajgen::sum_maps(maps.data(), 8); });
  CHECK(std::memcmp(baseline.data, expected.data, expected.total() * sizeof(float)) == 0);
  CHECK(std::memcmp(v3.data, expected.data, expected.total() * sizeof(float)) == 0);
}

TEST_CASE("gaussian_blur equals cv::GaussianBlur bit for bit, in place too", "[motion_box]") {
  std::mt19937 rng(12);
  std::exponential_distribution<float> e(1.0f);
  for (auto size : {cv::Size(106, 80), cv::Size(53, 40), cv::Size(7, 5), cv::Size(40, 1), cv::Size(1, 30),
                    cv::Size(1, 1), cv::Size(2, 2)})
    for (double sigma : {0.25, 1.0, 3.75, 7.5}) {
      INFO(size.width << "x" << size.height << " sigma " << sigma);
      cv::Mat map(size, CV_32F);
      for (auto it = map.begin<float>(); it != map.end<float>(); ++it) *it = e(rng);
      cv::Mat theirs, ours, in_place = map.clone();
      cv::GaussianBlur(map, theirs, cv::Size(), sigma);
      trajgen::gaussian_blur(map, ours, sigma);
      trajgen::gaussian_blur(in_place, in_place, sigma);
      REQUIRE(ours.size() == theirs.size());
      CHECK(std::memcmp(ours.data, theirs.data, theirs.total() * sizeof(float)) == 0);
      CHECK(std::memcmp(in_place.data, theirs.data, theirs.total() * sizeof(float)) == 0);
    }
}
