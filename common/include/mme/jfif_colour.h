#pragma once
// JPEG files hold YCbCr as JFIF defines it: the BT.601 matrix (luma 0.299 R + 0.587 G + 0.114 B) at
// full range. Video holds other matrices (BT.709 for HD, BT.2020, ...) and mostly limited range
// (luma 16-235). swscale converts between them only on some of its paths (its unscaled copy
// ignores range and matrix set after its context is made), so the video reader lets it scale
// only, in the video's own YCbCr, and turns the values into JFIF's here: an affine map of
// (Y, Cb, Cr), each chroma sample's correction going to the luma pixels it covers.
#include <cstdint>

namespace mme {

// Luma coefficients (Kr, Kb) of a matrix; Kg = 1 - Kr - Kb.
struct LumaCoefficients {
  double kr = 0.299, kb = 0.114;
};
constexpr LumaCoefficients kBt601{0.299, 0.114};

// JFIF value = m * (Y - y0, Cb - 128, Cr - 128) + (0, 128, 128): rows Y, Cb, Cr.
struct YcbcrMap {
  double m[3][3];
  double y0 = 0;
  bool identity() const;
};
YcbcrMap ycbcr_to_jfif(LumaCoefficients from, bool full_range);

// Applies the map in place to 4:2:0 planes (chroma (width+1)/2 x (height+1)/2; rows tightly
// packed), rounding and clamping to 0..255.
void apply_ycbcr_map(const YcbcrMap& map, int width, int height, std::uint8_t* y, std::uint8_t* cb, std::uint8_t* cr);

}  // namespace mme
