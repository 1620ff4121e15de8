// The tracker against analytic flows: translation, rotation, zoom, and a brute-force reference.
#include <trajgen/tracker.h>

#include <catch2/catch_test_macros.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <opencv2/imgproc.hpp>
#include <random>

#include "test_support.h"

namespace {

using Field = std::function<cv::Vec2f(float x, float y)>;

cv::Mat make_flow(int rows, int cols, const Field& f) {
  cv::Mat flow(rows, cols, CV_32FC2);
  for (int y = 0; y < rows; ++y)
    for (int x = 0; x < cols; ++x) flow.at<cv::Vec2f>(y, x) = f(static_cast<float>(x), static_cast<float>(y));
  return flow;
}

struct Tracks {
  int gh, gw, L;
  std::vector<float> d;
  std::vector<std::uint8_t> valid;
  cv::Vec2f step(int i, int j, int k) const {
    const float* p = d.data() + ((static_cast<std::size_t>(i) * gw + j) * L + k) * 2;
    return {p[0], p[1]};
  }
};

Tracks run(const std::vector<cv::Mat>& flows, trajgen::TrackParams p) {
  Tracks t{flows[0].rows / p.cell, flows[0].cols / p.cell, static_cast<int>(flows.size()), {}, {}};
  t.d.resize(static_cast<std::size_t>(t.gh) * t.gw * t.L * 2);
  t.valid.resize(static_cast<std::size_t>(t.gh) * t.gw);
  std::vector<const cv::Mat*> ptrs;
  for (const auto& f : flows) ptrs.push_back(&f);
  trajgen::track(ptrs, 1, p, t.d.data(), t.valid.data());
  return t;
}

}  // namespace

TEST_CASE("constant translation: exact displacements, validity flips exactly at the border", "[tracker]") {
  const int rows = 64, cols = 96, L = 4;
  const float u = 5.5f, v = -3.25f;
  std::vector<cv::Mat> flows(L, make_flow(rows, cols, [&](float, float) { return cv::Vec2f(u, v); }));
  for (auto lookup : {trajgen::Lookup::bilinear, trajgen::Lookup::nearest}) {
    const auto t = run(flows, {8, lookup});
    REQUIRE(t.gh == 8);
    REQUIRE(t.gw == 12);
    for (int i = 0; i < t.gh; ++i)
      for (int j = 0; j < t.gw; ++j) {
        float x = 4 + 8.f * j, y = 4 + 8.f * i;
        bool inside = true;
        for (int k = 0; k < L; ++k) {
          CHECK(t.step(i, j, k) == cv::Vec2f(u, v));
          x += u;
          y += v;
          inside = inside && x >= 0 && x <= cols - 1 && y >= 0 && y <= rows - 1;
        }
        CHECK(t.valid[i * t.gw + j] == (inside ? 1 : 0));
      }
  }
  // The right column leaves (x = 92 + 4 x 5.5 > 95), the top row too (y = 4 - 13 < 0).
  const auto t = run(flows, {8, trajgen::Lookup::bilinear});
  CHECK(t.valid[0 * t.gw + 0] == 0);
  CHECK(t.valid[5 * t.gw + 11] == 0);
  CHECK(t.valid[5 * t.gw + 5] == 1);
}

TEST_CASE("rotation about the centre: points stay on their circles", "[tracker]") {
  const int rows = 128, cols = 128, L = 8;
  const float a = 3.0f * static_cast<float>(CV_PI) / 180, c = 63.5f;
  // A linear field: bilinear interpolation reproduces it exactly, so each step is an exact rotation.
  const auto rot = make_flow(rows, cols, [&](float x, float y) {
    const float dx = x - c, dy = y - c;
    return cv::Vec2f(std::cos(a) * dx - std::sin(a) * dy - dx, std::sin(a) * dx + std::cos(a) * dy - dy);
  });
  const auto t = run(std::vector<cv::Mat>(L, rot), {8, trajgen::Lookup::bilinear});
  for (int i = 2; i < t.gh - 2; ++i)
    for (int j = 2; j < t.gw - 2; ++j) {
      float x = 4 + 8.f * j, y = 4 + 8.f * i;
      const float r0 = std::hypot(x - c, y - c);
      for (int k = 0; k < L; ++k) {
        x += t.step(i, j, k)[0];
        y += t.step(i, j, k)[1];
        CHECK(std::abs(std::hypot(x - c, y - c) - r0) < 1e-3f);
      }
      // And they turned by L x 3 degrees.
      const float turned = std::atan2(y - c, x - c) - std::atan2(4 + 8.f * i - c, 4 + 8.f * j - c);
      CHECK(std::abs(std::remainder(turned - L * a, 2 * static_cast<float>(CV_PI))) < 1e-3f);
    }
}

TEST_CASE("zoom: distances from the centre grow geometrically", "[tracker]") {
  const int rows = 96, cols = 128, L = 4;
  const float s = 0.05f, cx = 64, cy = 48;
  const auto zoom = make_flow(rows, cols, [&](float x, float y) { return cv::Vec2f(s * (x - cx), s * (y - cy)); });
  const auto t = run(std::vector<cv::Mat>(L, zoom), {8, trajgen::Lookup::bilinear});
  for (int i = 0; i < t.gh; ++i)
    for (int j = 0; j < t.gw; ++j) {
      const float x0 = 4 + 8.f * j, y0 = 4 + 8.f * i;
      float x = x0, y = y0;
      for (int k = 0; k < L; ++k) {
        x += t.step(i, j, k)[0];
        y += t.step(i, j, k)[1];
      }
      const float g = std::pow(1 + s, static_cast<float>(L));
      if (t.valid[i * t.gw + j]) {
        CHECK(std::abs(x - (cx + g * (x0 - cx))) < 1e-3f);
        CHECK(std::abs(y - (cy + g * (y0 - cy))) < 1e-3f);
      }
    }
}

TEST_CASE("bilinear and nearest lookups differ as defined", "[tracker]") {
  const auto ramp = make_flow(16, 16, [](float x, float y) { return cv::Vec2f(x, 10 * y); });
  CHECK(trajgen::sample_flow(ramp, 3.75f, 2.5f, trajgen::Lookup::bilinear) == cv::Vec2f(3.75f, 25.f));
  CHECK(trajgen::sample_flow(ramp, 3.75f, 2.5f, trajgen::Lookup::nearest) == cv::Vec2f(3.f, 20.f));    // truncated
  CHECK(trajgen::sample_flow(ramp, 15.f, 15.f, trajgen::Lookup::bilinear) == cv::Vec2f(15.f, 150.f));  // the corner
}

TEST_CASE("the tracker agrees with a brute-force reference on random smooth flows", "[tracker]") {
  std::mt19937 rng(21);
  std::uniform_real_distribution<double> amp(-4, 4), phase(0, 6.28);
  const int rows = 72, cols = 88, L = 6;
  std::vector<cv::Mat> flows;
  std::vector<std::array<double, 6>> params;
  for (int k = 0; k < L; ++k) {
    std::array<double, 6> p{amp(rng), amp(rng), phase(rng), phase(rng), amp(rng), amp(rng)};
    params.push_back(p);
    flows.push_back(make_flow(rows, cols, [&](float x, float y) {
      return cv::Vec2f(static_cast<float>(p[0] * std::sin(x / 13.0 + p[2]) + p[4]),
                       static_cast<float>(p[1] * std::cos(y / 11.0 + p[3]) + p[5]));
    }));
  }
  const auto t = run(flows, {8, trajgen::Lookup::bilinear});
  // Reference: double precision, its own bilinear interpolation of the same sampled fields.
  auto sample = [&](const cv::Mat& f, double x, double y, int c) {
    const int x0 = std::min(static_cast<int>(std::floor(x)), cols - 1),
              y0 = std::min(static_cast<int>(std::floor(y)), rows - 1);
    const int x1 = std::min(x0 + 1, cols - 1), y1 = std::min(y0 + 1, rows - 1);
    const double fx = x - x0, fy = y - y0;
    auto at = [&](int yy, int xx) { return static_cast<double>(f.at<cv::Vec2f>(yy, xx)[c]); };
    return (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x1)) + fy * ((1 - fx) * at(y1, x0) + fx * at(y1, x1));
  };
  int compared = 0;
  for (int i = 0; i < t.gh; ++i)
    for (int j = 0; j < t.gw; ++j) {
      double x = 4 + 8.0 * j, y = 4 + 8.0 * i;
      bool inside = true;
      for (int k = 0; k < L; ++k) {
        const double dx = sample(flows[k], x, y, 0), dy = sample(flows[k], x, y, 1);
        CHECK(std::abs(t.step(i, j, k)[0] - dx) < 2e-3);
        CHECK(std::abs(t.step(i, j, k)[1] - dy) < 2e-3);
        x += dx;
        y += dy;
        if (!(x >= 0 && x <= cols - 1 && y >= 0 && y <= rows - 1)) {
          inside = false;
          x = std::clamp(x, 0.0, cols - 1.0);
          y = std::clamp(y, 0.0, rows - 1.0);
        }
        ++compared;
      }
      CHECK(t.valid[i * t.gw + j] == (inside ? 1 : 0));
    }
  CHECK(compared == 9 * 11 * L);
}

TEST_CASE("quantised int16 fields and many starts at once give the float tracker's values", "[tracker]") {
  // trajgen tracks on the decoded int16 fields, several starts per call: the same trajectories as
  // float fields of value x scale, one start per call (to float rounding).
  std::mt19937 rng(8);
  std::uniform_int_distribution<int> q(-60, 60);
  const int rows = 48, cols = 64, L = 4, starts = 5;
  const float scale = 0.125f;
  std::vector<cv::Mat> quantised, pixels;
  for (int f = 0; f < starts + L - 1; ++f) {
    cv::Mat small(6, 8, CV_16SC2), field;
    for (int i = 0; i < 6 * 8 * 2; ++i) small.ptr<std::int16_t>()[i] = static_cast<std::int16_t>(q(rng));
    cv::resize(small, field, cv::Size(cols, rows), 0, 0, cv::INTER_NEAREST);  // piecewise-constant motion
    quantised.push_back(field);
    cv::Mat in_pixels;
    field.convertTo(in_pixels, CV_32FC2, scale);
    pixels.push_back(in_pixels);
  }
  std::vector<const cv::Mat*> all;
  for (const auto& f : quantised) all.push_back(&f);
  const int gh = rows / 8, gw = cols / 8;
  const std::size_t per_start = static_cast<std::size_t>(gh) * gw * L * 2;
  for (auto lookup : {trajgen::Lookup::bilinear, trajgen::Lookup::nearest}) {
    std::vector<float> d(per_start * starts);
    std::vector<std::uint8_t> valid(static_cast<std::size_t>(gh) * gw * starts);
    trajgen::track(all, starts, {8, lookup}, d.data(), valid.data(), scale);
    int invalid = 0;
    for (int s = 0; s < starts; ++s) {
      const auto t = run({pixels.begin() + s, pixels.begin() + s + L}, {8, lookup});
      for (std::size_t n = 0; n < per_start; ++n) REQUIRE(std::abs(d[s * per_start + n] - t.d[n]) < 1e-4);
      for (std::size_t n = 0; n < t.valid.size(); ++n) {
        REQUIRE(valid[s * t.valid.size() + n] == t.valid[n]);
        invalid += t.valid[n] == 0;
      }
    }
    CHECK(invalid > 0);  // the fields move seeds out of the frame too
  }
}

TEST_CASE("the tracker's x86-64-v3 build gives the baseline build's trajectories", "[tracker][isa]") {
  // Random smooth flows that carry some seeds out of the frame, as float and as int16 fields, with
  // both lookups; 11 x 13 seeds leave a tail after the groups of four.
  std::mt19937 rng(17);
  std::uniform_real_distribution<double> amp(-6, 6), phase(0, 6.28);
  const int rows = 88, cols = 104, L = 5, starts = 3;
  std::vector<cv::Mat> pixels, quantised;
  for (int k = 0; k < starts + L - 1; ++k) {
    const double a = amp(rng), b = amp(rng), p = phase(rng), q = phase(rng), c = amp(rng), d = amp(rng);
    pixels.push_back(make_flow(rows, cols, [&](float x, float y) {
      return cv::Vec2f(static_cast<float>(a * std::sin(x / 9.0 + p) + c),
                       static_cast<float>(b * std::cos(y / 7.0 + q) + d));
    }));
    cv::Mat in_steps;
    pixels.back().convertTo(in_steps, CV_16SC2, 16.0);
    quantised.push_back(in_steps);
  }
  const int seeds = (rows / 8) * (cols / 8);
  for (const auto* fields : {&pixels, &quantised})
    for (auto lookup : {trajgen::Lookup::bilinear, trajgen::Lookup::nearest}) {
      std::vector<const cv::Mat*> all;
      for (const auto& f : *fields) all.push_back(&f);
      const float scale = fields == &quantised ? 1.0f / 16 : 1.0f;
      const auto [baseline, v3] = mme::test::on_both_kernel_builds([&] {
        std::pair<std::vector<float>, std::vector<std::uint8_t>> out{
            std::vector<float>(static_cast<std::size_t>(seeds) * L * 2 * starts),
            std::vector<std::uint8_t>(static_cast<std::size_t>(seeds) * starts)};
        trajgen::track(all, starts, {8, lookup}, out.first.data(), out.second.data(), scale);
        return out;
      });
      CHECK(std::memcmp(v3.first.data(), baseline.first.data(), baseline.first.size() * sizeof(float)) == 0);
      CHECK(v3.second == baseline.second);
      CHECK(std::count(baseline.second.begin(), baseline.second.end(), 0) > 0);  // some left the frame
    }
}
