#include <trainer/rand_augment.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>

namespace trainer {

namespace {

constexpr double kMaxLevel = 10;                             // timm's _LEVEL_DENOM
constexpr std::array<std::uint8_t, 3> kFill{124, 116, 104};  // VideoMAE's img_mean for RandAugment
constexpr double kApplyProbability = 0.5;                    // timm's RandAugment ops: prob 0.5

std::uint8_t clip8(double v) {
  return static_cast<std::uint8_t>(std::clamp(std::lround(v), 0L, 255L));
}

// One frame as a view.
struct Frame {
  std::uint8_t* data;
  int width, height;
  std::uint8_t* at(int x, int y) const { return data + (static_cast<std::size_t>(y) * width + x) * 3; }
  std::size_t pixels() const { return static_cast<std::size_t>(width) * height; }
};

// PIL's luma (ITU-R 601-2: L = R 299/1000 + G 587/1000 + B 114/1000).
double luma(const std::uint8_t* p) {
  return (p[0] * 299 + p[1] * 587 + p[2] * 114) / 1000.0;
}

// Image.blend(degenerate, image, factor) = degenerate + factor (image - degenerate), clipped.
template <typename Degenerate>
void blend(Frame f, double factor, Degenerate degenerate) {
  for (int y = 0; y < f.height; ++y)
    for (int x = 0; x < f.width; ++x) {
      auto* p = f.at(x, y);
      const auto d = degenerate(x, y);
      for (int c = 0; c < 3; ++c) p[c] = clip8(d[c] + factor * (p[c] - d[c]));
    }
}

// Output (x, y) samples the input at A (x, y, 1) (PIL's Image.transform AFFINE: pixel centres),
// bilinearly; outside the frame: the fill colour.
void affine(Frame f, const std::array<double, 6>& a) {
  std::vector<std::uint8_t> src(f.data, f.data + f.pixels() * 3);
  const Frame in{src.data(), f.width, f.height};
  for (int y = 0; y < f.height; ++y)
    for (int x = 0; x < f.width; ++x) {
      const double cx = x + 0.5, cy = y + 0.5;
      const double sx = a[0] * cx + a[1] * cy + a[2] - 0.5, sy = a[3] * cx + a[4] * cy + a[5] - 0.5;
      auto* out = f.at(x, y);
      if (sx < -0.5 || sy < -0.5 || sx > f.width - 0.5 || sy > f.height - 0.5) {
        std::copy(kFill.begin(), kFill.end(), out);
        continue;
      }
      const int x0 = static_cast<int>(std::floor(sx)), y0 = static_cast<int>(std::floor(sy));
      const double wx = sx - x0, wy = sy - y0;
      auto pixel = [&](int px, int py) {
        return in.at(std::clamp(px, 0, f.width - 1), std::clamp(py, 0, f.height - 1));
      };
      const auto *p00 = pixel(x0, y0), *p10 = pixel(x0 + 1, y0), *p01 = pixel(x0, y0 + 1), *p11 = pixel(x0 + 1, y0 + 1);
      for (int c = 0; c < 3; ++c)
        out[c] = clip8((1 - wy) * ((1 - wx) * p00[c] + wx * p10[c]) + wy * ((1 - wx) * p01[c] + wx * p11[c]));
    }
}

void lut(Frame f, const std::array<std::array<std::uint8_t, 256>, 3>& table) {
  for (std::size_t i = 0; i < f.pixels(); ++i)
    for (int c = 0; c < 3; ++c) f.data[i * 3 + c] = table[c][f.data[i * 3 + c]];
}

std::array<std::array<std::int64_t, 256>, 3> histograms(Frame f) {
  std::array<std::array<std::int64_t, 256>, 3> h{};
  for (std::size_t i = 0; i < f.pixels(); ++i)
    for (int c = 0; c < 3; ++c) ++h[c][f.data[i * 3 + c]];
  return h;
}

// PIL's ImageOps.autocontrast (cutoff 0): each channel's range stretched to 0..255.
void autocontrast(Frame f) {
  const auto h = histograms(f);
  std::array<std::array<std::uint8_t, 256>, 3> table;
  for (int c = 0; c < 3; ++c) {
    int lo = 0, hi = 255;
    while (lo < 255 && h[c][lo] == 0) ++lo;
    while (hi > 0 && h[c][hi] == 0) --hi;
    for (int i = 0; i < 256; ++i) {
      if (hi <= lo) {
        table[c][i] = static_cast<std::uint8_t>(i);
        continue;
      }
      const double scale = 255.0 / (hi - lo), offset = -lo * scale;
      table[c][i] = static_cast<std::uint8_t>(std::clamp(static_cast<int>(i * scale + offset), 0, 255));
    }
  }
  lut(f, table);
}

// PIL's ImageOps.equalize: each channel through its cumulative histogram.
void equalize(Frame f) {
  const auto h = histograms(f);
  std::array<std::array<std::uint8_t, 256>, 3> table;
  for (int c = 0; c < 3; ++c) {
    std::int64_t total = 0, last = 0, used = 0;
    for (int i = 0; i < 256; ++i)
      if (h[c][i] > 0) total += h[c][i], last = h[c][i], ++used;
    const std::int64_t step = (total - last) / 255;
    for (int i = 0; i < 256; ++i) table[c][i] = static_cast<std::uint8_t>(i);
    if (used <= 1 || step == 0) continue;
    std::int64_t n = step / 2;
    for (int i = 0; i < 256; ++i) {
      table[c][i] = static_cast<std::uint8_t>(std::min<std::int64_t>(255, n / step));
      n += h[c][i];
    }
  }
  lut(f, table);
}

// The signed factor of the "increasing" enhancement ops: 1 +- level/10 x 0.9.
double enhance_factor(double level, bool negate) {
  return 1.0 + (negate ? -1 : 1) * level / kMaxLevel * 0.9;
}

}  // namespace

RandAugment::RandAugment(const std::string& spec) {
  if (spec.rfind("rand", 0) != 0) throw std::invalid_argument("a RandAugment spec starts with 'rand': " + spec);
  std::size_t begin = 4;
  while (begin < spec.size()) {
    if (spec[begin] != '-') throw std::invalid_argument("RandAugment spec '" + spec + "': fields are separated by '-'");
    const auto end = std::min(spec.find('-', begin + 1), spec.size());
    const auto field = spec.substr(begin + 1, end - begin - 1);
    try {
      if (field.rfind("mstd", 0) == 0)
        magnitude_std_ = std::stod(field.substr(4));
      else if (field.rfind("inc", 0) == 0) {
        if (std::stoi(field.substr(3)) != 1)
          throw std::invalid_argument("only the increasing operations (inc1) are implemented");
      } else if (field[0] == 'm')
        magnitude_ = std::stod(field.substr(1));
      else if (field[0] == 'n')
        layers_ = std::stoi(field.substr(1));
      else
        throw std::invalid_argument("unknown field " + field);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(fmt::format("RandAugment spec '{}': {}", spec, e.what()));
    }
    begin = end;
  }
  if (layers_ < 0 || magnitude_ < 0 || magnitude_ > kMaxLevel || magnitude_std_ < 0)
    throw std::invalid_argument(fmt::format("RandAugment spec '{}': n >= 0, 0 <= m <= 10, mstd >= 0", spec));
}

const std::vector<std::string>& RandAugment::operations() {
  static const std::vector<std::string> names{"AutoContrast",
                                              "Equalize",
                                              "Invert",
                                              "Rotate",
                                              "PosterizeIncreasing",
                                              "SolarizeIncreasing",
                                              "SolarizeAdd",
                                              "ColorIncreasing",
                                              "ContrastIncreasing",
                                              "BrightnessIncreasing",
                                              "SharpnessIncreasing",
                                              "ShearX",
                                              "ShearY",
                                              "TranslateXRel",
                                              "TranslateYRel"};
  return names;
}

void RandAugment::apply_operation(const std::string& name, double level, bool negate, std::uint8_t* frames, int count,
                                  int width, int height) {
  const double sign = negate ? -1 : 1;
  for (int t = 0; t < count; ++t) {
    const Frame f{frames + static_cast<std::size_t>(t) * width * height * 3, width, height};
    if (name == "AutoContrast") {
      autocontrast(f);
    } else if (name == "Equalize") {
      equalize(f);
    } else if (name == "Invert") {
      for (std::size_t i = 0; i < f.pixels() * 3; ++i) f.data[i] = static_cast<std::uint8_t>(255 - f.data[i]);
    } else if (name == "Rotate") {
      // Counter-clockwise by level/10 x 30 degrees about the centre (PIL's rotate).
      const double a = sign * level / kMaxLevel * 30 * M_PI / 180, c = std::cos(a), s = std::sin(a);
      const double cx = width / 2.0, cy = height / 2.0;
      affine(f, {c, -s, cx - c * cx + s * cy, s, c, cy - s * cx - c * cy});
    } else if (name == "PosterizeIncreasing") {
      const int bits = 4 - static_cast<int>(level / kMaxLevel * 4);
      const auto mask = static_cast<std::uint8_t>(~((1u << (8 - bits)) - 1));
      for (std::size_t i = 0; i < f.pixels() * 3; ++i) f.data[i] &= mask;
    } else if (name == "SolarizeIncreasing") {
      const int threshold = 256 - static_cast<int>(level / kMaxLevel * 256);
      for (std::size_t i = 0; i < f.pixels() * 3; ++i)
        if (f.data[i] >= threshold) f.data[i] = static_cast<std::uint8_t>(255 - f.data[i]);
    } else if (name == "SolarizeAdd") {
      const int add = static_cast<int>(level / kMaxLevel * 110);
      for (std::size_t i = 0; i < f.pixels() * 3; ++i)
        if (f.data[i] < 128) f.data[i] = static_cast<std::uint8_t>(std::min(255, f.data[i] + add));
    } else if (name == "ColorIncreasing") {
      blend(f, enhance_factor(level, negate), [&](int x, int y) {
        const double l = luma(f.at(x, y));
        return std::array<double, 3>{l, l, l};
      });
    } else if (name == "ContrastIncreasing") {
      double sum = 0;
      for (std::size_t i = 0; i < f.pixels(); ++i) sum += static_cast<int>(luma(f.data + i * 3));
      const double mean = std::floor(sum / static_cast<double>(f.pixels()) + 0.5);
      blend(f, enhance_factor(level, negate), [&](int, int) { return std::array<double, 3>{mean, mean, mean}; });
    } else if (name == "BrightnessIncreasing") {
      blend(f, enhance_factor(level, negate), [](int, int) { return std::array<double, 3>{0, 0, 0}; });
    } else if (name == "SharpnessIncreasing") {
      // PIL's SMOOTH filter ([1 1 1; 1 5 1; 1 1 1] / 13) as the degenerate image; the border stays.
      std::vector<std::uint8_t> src(f.data, f.data + f.pixels() * 3);
      const Frame in{src.data(), width, height};
      blend(f, enhance_factor(level, negate), [&](int x, int y) {
        std::array<double, 3> d{};
        const auto* p = in.at(x, y);
        if (x == 0 || y == 0 || x == width - 1 || y == height - 1)
          return std::array<double, 3>{1.0 * p[0], 1.0 * p[1], 1.0 * p[2]};
        for (int dy = -1; dy <= 1; ++dy)
          for (int dx = -1; dx <= 1; ++dx) {
            const auto* q = in.at(x + dx, y + dy);
            const double w = dx == 0 && dy == 0 ? 5 : 1;
            for (int c = 0; c < 3; ++c) d[c] += w * q[c];
          }
        for (auto& v : d) v = std::round(v / 13);
        return d;
      });
    } else if (name == "ShearX") {
      affine(f, {1, sign * level / kMaxLevel * 0.3, 0, 0, 1, 0});
    } else if (name == "ShearY") {
      affine(f, {1, 0, 0, sign * level / kMaxLevel * 0.3, 1, 0});
    } else if (name == "TranslateXRel") {
      affine(f, {1, 0, sign * level / kMaxLevel * 0.45 * width, 0, 1, 0});
    } else if (name == "TranslateYRel") {
      affine(f, {1, 0, 0, 0, 1, sign * level / kMaxLevel * 0.45 * height});
    } else {
      throw std::invalid_argument("unknown RandAugment operation " + name);
    }
  }
}

void RandAugment::apply(std::uint8_t* frames, int count, int width, int height, Rng& rng) const {
  const auto& ops = operations();
  for (int layer = 0; layer < layers_; ++layer) {
    const auto& op = ops[rng.uniform(ops.size())];
    // Every draw is made whether or not the operation applies: the stream's use does not depend on it.
    const bool applies = rng.uniform01() < kApplyProbability;
    const double level = std::clamp(magnitude_ + magnitude_std_ * rng.normal(), 0.0, kMaxLevel);
    const bool negate = rng.uniform01() < 0.5;
    if (applies) apply_operation(op, level, negate, frames, count, width, height);
  }
}

}  // namespace trainer
