#include <trajgen/tracker.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace trajgen {

Lookup parse_lookup(const std::string& name) {
  if (name == "bilinear") return Lookup::bilinear;
  if (name == "nearest") return Lookup::nearest;
  throw std::invalid_argument("lookup '" + name + "' must be bilinear or nearest");
}

std::string to_string(Lookup l) {
  return l == Lookup::bilinear ? "bilinear" : "nearest";
}

namespace {

// The lookups, inlined into the tracking loop (a call per lookup cost about as much as the
// interpolation itself).
inline cv::Vec2f nearest(const cv::Mat& flow, float x, float y) {
  return flow.ptr<cv::Vec2f>(static_cast<int>(y))[static_cast<int>(x)];
}

inline cv::Vec2f bilinear(const cv::Mat& flow, float x, float y) {
  const int x0 = std::min(static_cast<int>(std::floor(x)), flow.cols - 1);
  const int y0 = std::min(static_cast<int>(std::floor(y)), flow.rows - 1);
  const int x1 = std::min(x0 + 1, flow.cols - 1), y1 = std::min(y0 + 1, flow.rows - 1);
  const float fx = x - x0, fy = y - y0;
  const auto* r0 = flow.ptr<cv::Vec2f>(y0);
  const auto* r1 = flow.ptr<cv::Vec2f>(y1);
  return (r0[x0] * (1 - fx) + r0[x1] * fx) * (1 - fy) + (r1[x0] * (1 - fx) + r1[x1] * fx) * fy;
}

template <cv::Vec2f (*Sample)(const cv::Mat&, float, float)>
void track_with(const std::vector<const cv::Mat*>& flows, int cell, float* out, std::uint8_t* valid) {
  const int rows = flows[0]->rows, cols = flows[0]->cols;
  const int gh = rows / cell, gw = cols / cell, L = static_cast<int>(flows.size());
  const float max_x = static_cast<float>(cols - 1), max_y = static_cast<float>(rows - 1);
  for (int i = 0; i < gh; ++i) {
    for (int j = 0; j < gw; ++j) {
      float x = cell / 2.0f + static_cast<float>(cell * j);
      float y = cell / 2.0f + static_cast<float>(cell * i);
      bool inside = true;
      float* d = out + (static_cast<std::size_t>(i) * gw + j) * L * 2;
      for (int k = 0; k < L; ++k) {
        const cv::Vec2f f = Sample(*flows[k], x, y);
        d[2 * k] = f[0];
        d[2 * k + 1] = f[1];
        x += f[0];
        y += f[1];
        if (!(x >= 0 && x <= max_x && y >= 0 && y <= max_y)) {
          inside = false;
          x = std::isfinite(x) ? std::clamp(x, 0.0f, max_x) : 0.0f;
          y = std::isfinite(y) ? std::clamp(y, 0.0f, max_y) : 0.0f;
        }
      }
      valid[static_cast<std::size_t>(i) * gw + j] = inside ? 1 : 0;
    }
  }
}

}  // namespace

cv::Vec2f sample_flow(const cv::Mat& flow, float x, float y, Lookup lookup) {
  return lookup == Lookup::nearest ? nearest(flow, x, y) : bilinear(flow, x, y);
}

void track(const std::vector<const cv::Mat*>& flows, const TrackParams& p, float* out, std::uint8_t* valid) {
  if (flows.empty()) throw std::invalid_argument("track: no flow fields");
  if (p.lookup == Lookup::nearest)
    track_with<nearest>(flows, p.cell, out, valid);
  else
    track_with<bilinear>(flows, p.cell, out, valid);
}

}  // namespace trajgen
