#include <flowgen/motion_paint.h>

#include <algorithm>
#include <cmath>

namespace flowgen {

bool paint_motion(const mme::FrameMotion& motion, int width, int height, int cell, int distance, cv::Mat& out) {
  const int cols = std::max(1, width / cell), rows = std::max(1, height / cell);
  out.create(rows, cols, CV_32FC2);
  out.setTo(cv::Scalar::all(0));
  if (!motion.has_vectors) return false;
  const float inv_distance = 1.0f / static_cast<float>(std::max(1, distance));
  const float sx = static_cast<float>(cols) / width, sy = static_cast<float>(rows) / height;
  for (const auto& v : motion.vectors) {
    if (v.reference > 0) continue;  // future references: distance unknown (see header)
    const float x0 = (v.x - v.w / 2.0f) * sx, x1 = (v.x + v.w / 2.0f) * sx;
    const float y0 = (v.y - v.h / 2.0f) * sy, y1 = (v.y + v.h / 2.0f) * sy;
    // Cells whose centre lies inside the block.
    const int cx0 = std::max(0, static_cast<int>(std::ceil(x0 - 0.5f)));
    const int cx1 = std::min(cols - 1, static_cast<int>(std::ceil(x1 - 0.5f)) - 1);
    const int cy0 = std::max(0, static_cast<int>(std::ceil(y0 - 0.5f)));
    const int cy1 = std::min(rows - 1, static_cast<int>(std::ceil(y1 - 0.5f)) - 1);
    const cv::Vec2f value(v.dx * inv_distance, v.dy * inv_distance);
    for (int y = cy0; y <= cy1; ++y) {
      auto* row = out.ptr<cv::Vec2f>(y);
      for (int x = cx0; x <= cx1; ++x) row[x] = value;
    }
  }
  return true;
}

int ReferenceDistance::next(char picture_type) {
  ++index_;
  const long long distance = last_reference_ >= 0 ? index_ - last_reference_ : 1;
  if (picture_type != 'B' && picture_type != 'b') last_reference_ = index_;
  return static_cast<int>(std::max(1LL, distance));
}

}  // namespace flowgen
