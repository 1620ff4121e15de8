#include <mme/isa.h>
#include <trajgen/motion_map.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace trajgen {
namespace {

// kCell > 0: the cell size known at compile time (the common ones), so that the per-cell sums
// unroll; 0: `cell` at run time. Each cell's sum runs left to right in every case.
template <int kCell>
void cell_magnitude_loop(const cv::Mat& field, float scale, int cell, int gh, int gw, float* out) {
  if constexpr (kCell > 0) cell = kCell;
  const float norm = scale / static_cast<float>(cell * cell);
  const int used = gw * cell;
  std::vector<float> magnitude(static_cast<std::size_t>(used));
  for (int i = 0; i < gh; ++i) {
    float* cells = out + static_cast<std::size_t>(i) * gw;
    std::fill(cells, cells + gw, 0.f);
    for (int y = i * cell; y < (i + 1) * cell; ++y) {
      // The magnitudes of a row first: a loop without a carried sum, which the compiler vectorises.
      const auto* row = field.ptr<std::int16_t>(y);
      for (int x = 0; x < used; ++x) {
        const auto u = static_cast<float>(row[2 * x]), v = static_cast<float>(row[2 * x + 1]);
        magnitude[x] = std::sqrt(u * u + v * v);
      }
      for (int j = 0; j < gw; ++j) {
        const float* m = magnitude.data() + static_cast<std::size_t>(j) * cell;
        float sum = m[0];  // = 0 + m[0]: magnitudes are >= +0
        for (int x = 1; x < cell; ++x) sum += m[x];
        cells[j] += sum;
      }
    }
    for (int j = 0; j < gw; ++j) cells[j] *= norm;
  }
}

void cell_magnitude_any(const cv::Mat& field, float scale, int cell, int gh, int gw, float* out) {
  switch (cell) {
    case 2:
      return cell_magnitude_loop<2>(field, scale, cell, gh, gw, out);
    case 4:
      return cell_magnitude_loop<4>(field, scale, cell, gh, gw, out);
    case 8:
      return cell_magnitude_loop<8>(field, scale, cell, gh, gw, out);
    default:
      return cell_magnitude_loop<0>(field, scale, cell, gh, gw, out);
  }
}

#if MME_HAVE_X86_64_V3
MME_X86_64_V3 void cell_magnitude_v3(const cv::Mat& field, float scale, int cell, int gh, int gw, float* out) {
  cell_magnitude_any(field, scale, cell, gh, gw, out);
}
#endif

}  // namespace

void cell_magnitude(const cv::Mat& field, float scale, int cell, int gh, int gw, float* out) {
  if (field.type() != CV_16SC2 || cell < 1 || gh * cell > field.rows || gw * cell > field.cols)
    throw std::invalid_argument("cell_magnitude: needs a CV_16SC2 field of at least gh x gw cells");
#if MME_HAVE_X86_64_V3
  if (mme::isa::active() == mme::isa::Level::x86_64_v3) return cell_magnitude_v3(field, scale, cell, gh, gw, out);
#endif
  cell_magnitude_any(field, scale, cell, gh, gw, out);
}

}  // namespace trajgen
