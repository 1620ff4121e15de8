#include <mme/isa.h>
#include <trajgen/motion_box.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <opencv2/imgproc.hpp>
#include <stdexcept>

namespace trajgen {

namespace {

// Mean of each whole f x f block of a 2-channel field, times `scale` -> its u and v planes
// (CV_32FC1, (rows / f) x (cols / f)). Per block row, the column sums of its f rows are
// accumulated first (a loop the compiler vectorises), then summed per block.
template <typename T, typename Sum>
std::array<cv::Mat, 2> block_mean(const cv::Mat& flow, int f, float scale) {
  const int bh = flow.rows / f, bw = flow.cols / f, used = 2 * bw * f;
  std::array<cv::Mat, 2> out{cv::Mat(bh, bw, CV_32F), cv::Mat(bh, bw, CV_32F)};
  std::vector<Sum> columns(static_cast<std::size_t>(used));
  const float norm = scale / static_cast<float>(f * f);
  for (int i = 0; i < bh; ++i) {
    std::fill(columns.begin(), columns.end(), Sum{0});
    for (int y = i * f; y < (i + 1) * f; ++y) {
      const T* row = flow.ptr<T>(y);
      for (int x = 0; x < used; ++x) columns[x] += row[x];
    }
    float* u_out = out[0].ptr<float>(i);
    float* v_out = out[1].ptr<float>(i);
    for (int j = 0; j < bw; ++j) {
      const Sum* block = columns.data() + static_cast<std::size_t>(2 * j * f);
      Sum u{0}, v{0};
      for (int k = 0; k < f; ++k) {
        u += block[2 * k];
        v += block[2 * k + 1];
      }
      u_out[j] = static_cast<float>(u) * norm;
      v_out[j] = static_cast<float>(v) * norm;
    }
  }
  return out;
}

// sqrt(ux^2 + uy^2 + vx^2 + vy^2) with 3x3 Sobel derivatives and the border OpenCV's Sobel uses
// (reflect-101), in one pass over the u and v planes: as four cv::Sobel calls with their
// accumulateSquare and sqrt it cost as much as the block means (per call overhead on 80x60);
// the inner loop runs over contiguous floats, which the compiler vectorises.
cv::Mat sobel_magnitude(const std::array<cv::Mat, 2>& uv) {
  const int h = uv[0].rows, w = uv[0].cols;
  const auto reflect = [](int i, int n) { return cv::borderInterpolate(i, n, cv::BORDER_REFLECT_101); };
  cv::Mat out(h, w, CV_32F);
  for (int y = 0; y < h; ++y) {
    const int ya = reflect(y - 1, h), yc = reflect(y + 1, h);
    const float *au = uv[0].ptr<float>(ya), *bu = uv[0].ptr<float>(y), *cu = uv[0].ptr<float>(yc);
    const float *av = uv[1].ptr<float>(ya), *bv = uv[1].ptr<float>(y), *cv = uv[1].ptr<float>(yc);
    float* o = out.ptr<float>(y);
    const auto at = [&](int x, int m, int p) {
      const float gxu = (au[p] - au[m]) + 2 * (bu[p] - bu[m]) + (cu[p] - cu[m]);
      const float gyu = (cu[m] + 2 * cu[x] + cu[p]) - (au[m] + 2 * au[x] + au[p]);
      const float gxv = (av[p] - av[m]) + 2 * (bv[p] - bv[m]) + (cv[p] - cv[m]);
      const float gyv = (cv[m] + 2 * cv[x] + cv[p]) - (av[m] + 2 * av[x] + av[p]);
      o[x] = std::sqrt(gxu * gxu + gyu * gyu + gxv * gxv + gyv * gyv);
    };
    at(0, reflect(-1, w), reflect(1, w));
    for (int x = 1; x + 1 < w; ++x) at(x, x - 1, x + 1);
    if (w > 1) at(w - 1, w - 2, reflect(w, w));
  }
  return out;
}

// The largest value and the standard deviation (as cv::meanStdDev: sums in double) of a
// CV_32FC1 map, in one pass: on the box rule's small maps minMaxLoc and meanStdDev took 12 us a
// frame, mostly in call overhead. Eight independent partial results each (a single running sum or
// maximum waits on its last addition every value: 5x slower).
void max_and_std(const cv::Mat& m, double& max_value, double& std) {
  constexpr int kLanes = 8;
  float best[kLanes];
  double sum[kLanes] = {}, squares[kLanes] = {};
  std::fill(best, best + kLanes, -std::numeric_limits<float>::infinity());
  for (int y = 0; y < m.rows; ++y) {
    const float* row = m.ptr<float>(y);
    int x = 0;
    for (; x + kLanes <= m.cols; x += kLanes)
      for (int l = 0; l < kLanes; ++l) {
        const float v = row[x + l];
        best[l] = v > best[l] ? v : best[l];
        sum[l] += v;
        squares[l] += static_cast<double>(v) * v;
      }
    for (; x < m.cols; ++x) {
      best[0] = row[x] > best[0] ? row[x] : best[0];
      sum[0] += row[x];
      squares[0] += static_cast<double>(row[x]) * row[x];
    }
  }
  double total = 0, total_squares = 0;
  max_value = best[0];
  for (int l = 0; l < kLanes; ++l) {
    max_value = std::max(max_value, static_cast<double>(best[l]));
    total += sum[l];
    total_squares += squares[l];
  }
  const double n = static_cast<double>(m.total()), mean = total / n;
  std = std::sqrt(std::max(total_squares / n - mean * mean, 0.0));
}

// The bounding box of the map cells that lie in a kept region and, with kMoving, have motion
// (m > 0); empty if none. `kept` holds the regions at 1/g of the map's size: map cell (y, x) lies
// in kept(min(y / g, rows - 1), min(x / g, cols - 1)) (nearest neighbour; a last odd row or column
// takes the coarse cell before it). Only the span of each row's kept cells is looked at: most rows
// cross no region. Not cv::boundingRect on a mask: OpenCV 4.6 (Debian 12) stops at the first
// nonzero byte of a row's unaligned head and can return boxes too narrow (opencv#24217).
template <bool kMoving>
cv::Rect kept_bounds(const cv::Mat& kept, int g, const cv::Mat& m) {
  int x0 = m.cols, y0 = m.rows, x1 = -1, y1 = -1;
  const int last_cell = kept.cols - 1;
  for (int y = 0; y < m.rows; ++y) {
    const std::uint8_t* in = kept.ptr<std::uint8_t>(std::min(y / g, kept.rows - 1));
    int c0 = 0, c1 = last_cell;
    while (c0 <= last_cell && !in[c0]) ++c0;
    if (c0 > last_cell) continue;
    while (!in[c1]) --c1;
    const float* motion = m.ptr<float>(y);
    const int xb = c1 == last_cell ? m.cols - 1 : c1 * g + g - 1;
    int first = -1, last = -1;
    for (int x = c0 * g; x <= xb; ++x)
      if (in[std::min(x / g, last_cell)] && (!kMoving || motion[x] > 0)) {
        if (first < 0) first = x;
        last = x;
      }
    if (last >= 0) {
      x0 = std::min(x0, first);
      x1 = std::max(x1, last);
      y0 = std::min(y0, y);
      y1 = y;
    }
  }
  return x1 < 0 ? cv::Rect() : cv::Rect(x0, y0, x1 - x0 + 1, y1 - y0 + 1);
}

// cv::GaussianBlur's kernel for a CV_32F image and `sigma` (its size from sigma as GaussianBlur
// takes it), made once per thread: getGaussianKernel computes in soft floats, 2.7 us for the
// 31 taps of the region blur, a third of that blur's time on the box rule's maps.
cv::Mat gaussian_kernel(double sigma) {
  thread_local std::vector<std::pair<double, cv::Mat>> made;
  for (const auto& [s, k] : made)
    if (s == sigma) return k;
  const int size = cvRound(sigma * 4 * 2 + 1) | 1;
  made.emplace_back(sigma, cv::getGaussianKernel(size, sigma, CV_32F));
  return made.back().second;
}

cv::Mat reduced_boundary(const cv::Mat& flow, int f, float scale) {
  return sobel_magnitude(flow.type() == CV_16SC2 ? block_mean<std::int16_t, std::int32_t>(flow, f, scale)
                                                 : block_mean<float, float>(flow, f, scale));
}

#if MME_HAVE_X86_64_V3
MME_X86_64_V3 cv::Mat reduced_boundary_v3(const cv::Mat& flow, int f, float scale) {
  return reduced_boundary(flow, f, scale);
}
#endif

// Row by row, so that a row of the sum stays in the cache while the maps are added to it.
cv::Mat sum_rows(const cv::Mat* maps, std::size_t count) {
  cv::Mat summed(maps[0].size(), CV_32F);
  for (int y = 0; y < summed.rows; ++y) {
    float* sum_row = summed.ptr<float>(y);
    std::copy_n(maps[0].ptr<float>(y), summed.cols, sum_row);
    for (std::size_t f = 1; f < count; ++f) {
      const float* in = maps[f].ptr<float>(y);
      for (int x = 0; x < summed.cols; ++x) sum_row[x] += in[x];
    }
  }
  return summed;
}

#if MME_HAVE_X86_64_V3
MME_X86_64_V3 cv::Mat sum_rows_v3(const cv::Mat* maps, std::size_t count) {
  return sum_rows(maps, count);
}
#endif

Box box_rule(const cv::Mat& small, int width, int height, const MotionBoxParams& p, bool& fallback) {
  const float w = static_cast<float>(width), h = static_cast<float>(height);
  const Box central{w / 4, h / 4, 3 * w / 4, 3 * h / 4};
  fallback = true;
  const int f = std::max(1, p.downscale);
  const auto sx = static_cast<float>(f), sy = sx;  // a map cell is an f x f block of pixels
  cv::Mat m;
  gaussian_blur(small, m, p.sigma_small / f);
  double max_value = 0, std = 0;
  max_and_std(m, max_value, std);
  if (!(max_value > 0)) return central;
  const double threshold = std::max(p.max_fraction * max_value, p.std_factor * std);
  cv::threshold(m, m, threshold, 0, cv::THRESH_TOZERO);  // keeps values above, zeros the rest
  // The wide blur only groups nearby motion into regions, so it runs at half the map's size
  // again (a quarter of the pixels, half the taps: 8x cheaper; it was half of this function's
  // time) and its regions are brought back to the map's size.
  const int g = m.cols >= 2 && m.rows >= 2 ? 2 : 1;
  cv::Mat coarse;  // never m itself: blurred in place, it would change the motion boxed below
  if (g > 1)
    cv::resize(m, coarse, cv::Size(m.cols / g, m.rows / g), 0, 0, cv::INTER_AREA);
  else
    coarse = m.clone();
  gaussian_blur(coarse, coarse, p.sigma_large / (f * g));
  double blurred_max = 0, unused = 0;
  max_and_std(coarse, blurred_max, unused);
  if (!(blurred_max > 0)) return central;
  cv::Mat mask = coarse > p.region_level * blurred_max;
  std::vector<std::vector<cv::Point>> contours;
  cv::findContours(mask, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
  if (contours.empty()) return central;
  std::vector<std::pair<double, std::size_t>> areas;
  for (std::size_t i = 0; i < contours.size(); ++i) areas.emplace_back(cv::contourArea(contours[i]), i);
  std::sort(areas.rbegin(), areas.rend());
  // The box is that of the thresholded motion inside the kept regions (the blur itself would
  // inflate it by about sigma each side).
  cv::Mat kept = cv::Mat::zeros(mask.size(), CV_8U);
  cv::drawContours(kept, contours, static_cast<int>(areas[0].second), cv::Scalar(255), cv::FILLED);
  if (areas.size() > 1 && areas[1].first >= 0.5 * areas[0].first)
    cv::drawContours(kept, contours, static_cast<int>(areas[1].second), cv::Scalar(255), cv::FILLED);
  // The box of the thresholded motion in the kept regions; of the regions themselves if none is.
  cv::Rect r = kept_bounds<true>(kept, g, m);
  if (r.area() == 0) r = kept_bounds<false>(kept, g, m);
  if (r.area() == 0) return central;
  fallback = false;
  return {std::min(w, r.x * sx), std::min(h, r.y * sy), std::min(w, (r.x + r.width) * sx),
          std::min(h, (r.y + r.height) * sy)};
}

#if MME_HAVE_X86_64_V3
// Its own loops (maximum and deviation, bounds) in the x86-64-v3 build; OpenCV's calls are OpenCV's.
MME_X86_64_V3 Box box_rule_v3(const cv::Mat& small, int width, int height, const MotionBoxParams& p, bool& fallback) {
  return box_rule(small, width, height, p, fallback);
}
#endif

}  // namespace

cv::Mat motion_boundary(const cv::Mat& flow, int downscale, float scale) {
  // The flow is reduced first: the box rule runs at the reduced size anyway, and the derivatives
  // on a 16x smaller field are 16x cheaper. Its thresholds are relative (to the maximum and the
  // standard deviation), so the change of derivative scale does not matter.
  if (flow.type() != CV_32FC2 && flow.type() != CV_16SC2)
    throw std::invalid_argument("motion_boundary: the field must be CV_32FC2 or CV_16SC2");
  const int f = std::max(1, downscale);
  if (flow.rows < f || flow.cols < f) throw std::invalid_argument("motion_boundary: field smaller than one block");
#if MME_HAVE_X86_64_V3
  if (mme::isa::active() == mme::isa::Level::x86_64_v3) return reduced_boundary_v3(flow, f, scale);
#endif
  return reduced_boundary(flow, f, scale);
}

cv::Mat sum_maps(const cv::Mat* maps, std::size_t count) {
  if (count == 0) throw std::invalid_argument("sum_maps: no maps");
  for (std::size_t f = 0; f < count; ++f)
    if (maps[f].type() != CV_32FC1 || maps[f].size() != maps[0].size())
      throw std::invalid_argument("sum_maps: the maps must be CV_32FC1 of one size");
#if MME_HAVE_X86_64_V3
  if (mme::isa::active() == mme::isa::Level::x86_64_v3) return sum_rows_v3(maps, count);
#endif
  return sum_rows(maps, count);
}

void gaussian_blur(const cv::Mat& src, cv::Mat& dst, double sigma) {
  if (src.type() != CV_32FC1 || !(sigma > 0))
    throw std::invalid_argument("gaussian_blur: needs CV_32FC1 and sigma > 0");
  // As cv::GaussianBlur does: no vertical pass over a single row, no horizontal one over a single
  // column; a copy when both.
  const cv::Mat k = gaussian_kernel(sigma), one(1, 1, CV_32F, cv::Scalar(1));
  const bool across = src.cols > 1 && k.rows > 1, down = src.rows > 1 && k.rows > 1;
  if (!across && !down) {
    src.copyTo(dst);
    return;
  }
  cv::sepFilter2D(src, dst, CV_32F, across ? k : one, down ? k : one, cv::Point(-1, -1), 0, cv::BORDER_DEFAULT);
}

Box box_from_map(const cv::Mat& small, int width, int height, const MotionBoxParams& p, bool& fallback) {
#if MME_HAVE_X86_64_V3
  if (mme::isa::active() == mme::isa::Level::x86_64_v3) return box_rule_v3(small, width, height, p, fallback);
#endif
  return box_rule(small, width, height, p, fallback);
}

std::vector<Box> clean_boxes(const std::vector<Box>& boxes, int median) {
  std::vector<Box> out(boxes.size());
  const int half = std::max(0, median / 2);
  for (std::size_t t = 0; t < boxes.size(); ++t) {
    const std::size_t lo = t >= static_cast<std::size_t>(half) ? t - half : 0;
    const std::size_t hi = std::min(boxes.size(), t + half + 1);
    for (int c = 0; c < 4; ++c) {
      std::vector<float> v;
      for (std::size_t k = lo; k < hi; ++k) v.push_back(boxes[k][c]);
      std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
      out[t][c] = v[v.size() / 2];
    }
  }
  return out;
}

Box union_box(const std::vector<Box>& boxes, const std::vector<bool>& fallback, int width, int height) {
  Box u{static_cast<float>(width), static_cast<float>(height), 0, 0};
  bool any = false;
  for (std::size_t t = 0; t < boxes.size(); ++t) {
    if (fallback[t]) continue;
    any = true;
    u = {std::min(u[0], boxes[t][0]), std::min(u[1], boxes[t][1]), std::max(u[2], boxes[t][2]),
         std::max(u[3], boxes[t][3])};
  }
  if (!any) return {width / 4.0f, height / 4.0f, 3 * width / 4.0f, 3 * height / 4.0f};
  return u;
}

}  // namespace trajgen
