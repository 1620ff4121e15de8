#include <mme/jfif_colour.h>

#include <algorithm>
#include <cmath>
#include <cstddef>

namespace mme {

namespace {

// Full-range YCbCr (chroma centred on 0) <-> RGB for luma coefficients (kr, kb).
void to_rgb(LumaCoefficients k, const double ycc[3], double rgb[3]) {
  const double kg = 1 - k.kr - k.kb;
  rgb[0] = ycc[0] + 2 * (1 - k.kr) * ycc[2];
  rgb[2] = ycc[0] + 2 * (1 - k.kb) * ycc[1];
  rgb[1] = (ycc[0] - k.kr * rgb[0] - k.kb * rgb[2]) / kg;
}
void to_ycc(LumaCoefficients k, const double rgb[3], double ycc[3]) {
  const double kg = 1 - k.kr - k.kb;
  ycc[0] = k.kr * rgb[0] + kg * rgb[1] + k.kb * rgb[2];
  ycc[1] = (rgb[2] - ycc[0]) / (2 * (1 - k.kb));
  ycc[2] = (rgb[0] - ycc[0]) / (2 * (1 - k.kr));
}

constexpr int kShift = 14;  // fixed point: exact enough for 8-bit values, no floats per pixel

std::uint8_t clamp_round(int fixed) {
  return static_cast<std::uint8_t>(std::clamp((fixed + (1 << (kShift - 1))) >> kShift, 0, 255));
}

}  // namespace

bool YcbcrMap::identity() const {
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c)
      if (std::abs(m[r][c] - (r == c ? 1.0 : 0.0)) > 1e-9) return false;
  return y0 == 0;
}

YcbcrMap ycbcr_to_jfif(LumaCoefficients from, bool full_range) {
  YcbcrMap map{};
  // Limited range: luma 16-235 and chroma 16-240 stretched to 0-255 first (BT.601/709 scaling).
  const double scale[3] = {full_range ? 1.0 : 255.0 / 219, full_range ? 1.0 : 255.0 / 224,
                           full_range ? 1.0 : 255.0 / 224};
  map.y0 = full_range ? 0 : 16;
  // Both conversions are linear: the map's columns are the images of the unit vectors.
  for (int c = 0; c < 3; ++c) {
    double unit[3] = {0, 0, 0}, rgb[3], out[3];
    unit[c] = scale[c];
    to_rgb(from, unit, rgb);
    to_ycc(kBt601, rgb, out);
    for (int r = 0; r < 3; ++r) map.m[r][c] = std::abs(out[r]) < 1e-12 ? 0 : out[r];
  }
  return map;
}

void apply_ycbcr_map(const YcbcrMap& map, int width, int height, std::uint8_t* y, std::uint8_t* cb, std::uint8_t* cr) {
  int q[3][3];
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) q[r][c] = static_cast<int>(std::lround(map.m[r][c] * (1 << kShift)));
  const int y0 = static_cast<int>(map.y0);
  // Luma from luma alone is one table lookup (chroma never feeds luma's own term).
  int luma[256];
  for (int v = 0; v < 256; ++v) luma[v] = q[0][0] * (v - y0);
  const int cw = (width + 1) / 2, ch = (height + 1) / 2;
  const std::size_t luma_size = static_cast<std::size_t>(width) * height,
                    chroma_size = static_cast<std::size_t>(cw) * ch;
  if (q[0][1] == 0 && q[0][2] == 0 && q[1][2] == 0 && q[2][1] == 0) {
    // BT.601 at limited range, most video: a range stretch only, one table per plane.
    std::uint8_t ty[256], tb[256], tr[256];
    for (int v = 0; v < 256; ++v) {
      ty[v] = clamp_round(luma[v]);
      tb[v] = clamp_round(q[1][1] * (v - 128) + (128 << kShift));
      tr[v] = clamp_round(q[2][2] * (v - 128) + (128 << kShift));
    }
    for (std::size_t i = 0; i < luma_size; ++i) y[i] = ty[y[i]];
    for (std::size_t i = 0; i < chroma_size; ++i) {
      cb[i] = tb[cb[i]];
      cr[i] = tr[cr[i]];
    }
    return;
  }
  for (int j = 0; j < ch; ++j) {
    for (int i = 0; i < cw; ++i) {
      const std::size_t k = static_cast<std::size_t>(j) * cw + i;
      const int u = cb[k] - 128, v = cr[k] - 128;
      const int dy = q[0][1] * u + q[0][2] * v;
      for (int yy = 2 * j; yy < std::min(2 * j + 2, height); ++yy)
        for (int xx = 2 * i; xx < std::min(2 * i + 2, width); ++xx) {
          auto& p = y[static_cast<std::size_t>(yy) * width + xx];
          p = clamp_round(luma[p] + dy);
        }
      cb[k] = clamp_round(q[1][1] * u + q[1][2] * v + (128 << kShift));
      cr[k] = clamp_round(q[2][1] * u + q[2][2] * v + (128 << kShift));
    }
  }
}

}  // namespace mme
