#pragma once
// The flow chunk coder. Flow fields are piecewise smooth: LOCO-I's median edge detector (the
// predictor of JPEG-LS) predicts each int16 value from its left, upper and upper-left neighbours,
// which leaves ~98% of the residuals at exactly zero on real DIS flow at 1/8 px. Deflate handles
// such data poorly (it spends at least a bit per literal); an adaptive binary range coder with
// contexts from the local activity codes it near its entropy (about half the size of the usual
// +-20 px JPEG flow images, at a third of their error).
//
// Binarisation of a residual r (computed modulo 2^16, so every int16 input round-trips exactly):
//   zero flag            context: local activity bucket x left and upper residuals zero or not
//   m = zigzag(r) - 1    Elias-gamma style: the bit length n of m in unary (adaptive per
//                        zero-flag context and position), then the n-1 bits below the leading one
//                        (adaptive per length and position, so the sign bit learns its bias).
//
// Header-only and free of HDF5 so that the chunk codec (our threads) and the HDF5 filter plugin
// (h5py, h5dump) share one implementation.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

namespace mme::loco {

// Written without branches (conditional moves): on noisy data the branches mispredicted often.
inline std::int32_t median_edge(std::int32_t a, std::int32_t b, std::int32_t c) {
  const std::int32_t lo = a < b ? a : b, hi = a < b ? b : a;
  std::int32_t p = a + b - c;
  p = c <= lo ? hi : p;
  return c >= hi ? lo : p;
}

// A value's residual from its prediction, modulo 2^16 (so every int16 round-trips exactly), folded
// to unsigned: 0, -1, 1, -2, 2, ... -> 0, 1, 2, 3, 4, ... (< 2^16). Both coders code this.
inline unsigned zigzag(std::int32_t value, std::int32_t prediction) {
  const auto r = static_cast<std::int16_t>(static_cast<std::uint16_t>(value - prediction));
  return static_cast<std::uint16_t>((static_cast<std::uint16_t>(r) << 1) ^ static_cast<std::uint16_t>(r >> 15));
}

// The value back from its prediction and zigzag residual z (< 2^16).
inline std::int16_t unzigzag(unsigned z, std::int32_t prediction) {
  const auto r = static_cast<std::int16_t>((z >> 1) ^ static_cast<std::uint16_t>(-(z & 1)));
  return static_cast<std::int16_t>(static_cast<std::uint16_t>(prediction + r));
}

// A rows x cols x channels interleaved int16 array (flow: H x W x 2).
struct Geometry {
  std::size_t rows = 0, cols = 0, channels = 1;
  std::size_t values() const { return rows * cols * channels; }
};

// LZMA-style binary range coder: 11-bit probabilities, adaptation shift 5.
constexpr std::uint32_t kProbBits = 11, kProbInit = 1u << (kProbBits - 1), kTop = 1u << 24;
constexpr int kMoveBits = 5;

class RangeEncoder {
 public:
  explicit RangeEncoder(std::vector<std::uint8_t>& out) : out_(out) {}
  void bit(std::uint16_t& p, unsigned b) {
    const std::uint32_t bound = (range_ >> kProbBits) * p;
    if (!b) {
      range_ = bound;
      p = static_cast<std::uint16_t>(p + (((1u << kProbBits) - p) >> kMoveBits));
    } else {
      low_ += bound;
      range_ -= bound;
      p = static_cast<std::uint16_t>(p - (p >> kMoveBits));
    }
    while (range_ < kTop) {
      range_ <<= 8;
      shift_low();
    }
  }
  void finish() {
    for (int i = 0; i < 5; ++i) shift_low();
  }

 private:
  void shift_low() {
    if (static_cast<std::uint32_t>(low_) < 0xFF000000u || (low_ >> 32) != 0) {
      const auto carry = static_cast<std::uint8_t>(low_ >> 32);
      std::uint8_t temp = cache_;
      do {
        out_.push_back(static_cast<std::uint8_t>(temp + carry));
        temp = 0xFF;
      } while (--cache_size_ != 0);
      cache_ = static_cast<std::uint8_t>(low_ >> 24);
    }
    ++cache_size_;
    low_ = (low_ & 0x00FFFFFFu) << 8;
  }
  std::vector<std::uint8_t>& out_;
  std::uint64_t low_ = 0;
  std::uint32_t range_ = 0xFFFFFFFFu;
  std::uint8_t cache_ = 0;
  std::uint64_t cache_size_ = 1;
};

class RangeDecoder {
 public:
  RangeDecoder(const std::uint8_t* data, std::size_t size) : p_(data), end_(data + size) {
    for (int i = 0; i < 5; ++i) code_ = (code_ << 8) | next();
  }
  unsigned bit(std::uint16_t& p) {
    const std::uint32_t bound = (range_ >> kProbBits) * p;
    unsigned b;
    if (code_ < bound) {
      range_ = bound;
      p = static_cast<std::uint16_t>(p + (((1u << kProbBits) - p) >> kMoveBits));
      b = 0;
    } else {
      code_ -= bound;
      range_ -= bound;
      p = static_cast<std::uint16_t>(p - (p >> kMoveBits));
      b = 1;
    }
    while (range_ < kTop) {
      range_ <<= 8;
      code_ = (code_ << 8) | next();
    }
    return b;
  }
  // More bytes were consumed than the stream holds: the data is corrupt or cut.
  bool overrun() const { return overrun_ > 4; }

 private:
  std::uint32_t next() {
    if (p_ < end_) return *p_++;
    ++overrun_;
    return 0;
  }
  const std::uint8_t* p_;
  const std::uint8_t* end_;
  std::uint32_t code_ = 0, range_ = 0xFFFFFFFFu;
  int overrun_ = 0;
};

// The adaptive model shared by encoder and decoder.
struct Model {
  static constexpr int kActivity = 8;    // activity buckets
  static constexpr int kMaxLength = 17;  // bit lengths of m: 0..16
  std::uint16_t zero[kActivity * 4];
  std::uint16_t length[kActivity * 4][kMaxLength];
  std::uint16_t bits[kMaxLength][16];
  std::uint16_t run = kProbInit;
  Model() {
    for (auto& p : zero) p = kProbInit;
    for (auto& a : length)
      for (auto& p : a) p = kProbInit;
    for (auto& a : bits)
      for (auto& p : a) p = kProbInit;
  }
  // The local activity around a value: |a - c| + |b - c| of its left, upper and upper-left
  // neighbours.
  static std::int32_t activity_distance(std::int32_t a, std::int32_t b, std::int32_t c) {
    return (a > c ? a - c : c - a) + (b > c ? b - c : c - b);
  }
  // Buckets of the activity: 0, 1, 2, 3-4, 5-8, 9-16, 17-32, >32 steps.
  static int activity(std::int32_t a, std::int32_t b, std::int32_t c) {
    static constexpr std::uint8_t kBucket[33] = {0, 1, 2, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5,
                                                 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6};
    const std::int32_t d = activity_distance(a, b, c);
    return d > 32 ? 7 : kBucket[d];
  }
};

// Walks the array in channel-planar raster order, giving each value its prediction, its activity
// bucket and its zero-flag context (activity x left residual zero x upper residual zero). The
// first row and column are handled apart so the inner loop has no edge tests.
//
// Run mode (as in JPEG-LS): where the last residual was zero and the row above is flat and
// zero-coded for the next kRun values, one flag says "the next kRun values all equal the left
// one". Flat regions then cost one binary decision per kRun values instead of one per value.
// After a flag of 0 the next kRun values are coded one by one (no new flag among them).
constexpr std::size_t kRun = 8;

template <typename Value, typename Visit, typename Run>
inline void raster(const Geometry& g, Value* values, Visit&& visit, Run&& run) {
  if (g.cols == 0) return;  // no values (rows of nothing)
  const std::size_t step = g.channels, stride = g.cols * g.channels;
  std::vector<std::uint8_t> zero_row(g.cols);  // residual == 0 in the row above
  for (std::size_t k = 0; k < g.channels; ++k) {
    std::fill(zero_row.begin(), zero_row.end(), 1);
    for (std::size_t y = 0; y < g.rows; ++y) {
      Value* row = values + y * stride + k;
      unsigned left_zero = 1;
      auto one = [&](std::size_t x, std::int32_t a, std::int32_t b, std::int32_t c) {
        const int act = Model::activity(a, b, c);
        const unsigned ctx = static_cast<unsigned>(act) * 4 + left_zero * 2 + zero_row[x];
        left_zero = visit(row[x * step], median_edge(a, b, c), ctx) ? 1 : 0;
        zero_row[x] = static_cast<std::uint8_t>(left_zero);
      };
      if (y == 0) {
        for (std::size_t x = 0; x < g.cols; ++x) {
          const std::int32_t a = x ? row[(x - 1) * step] : 0;
          one(x, a, a, a);
        }
        continue;
      }
      const Value* up = row - stride;
      one(0, up[0], up[0], up[0]);
      std::size_t no_run_until = 0;
      for (std::size_t x = 1; x < g.cols;) {
        if (left_zero && x >= no_run_until && x + kRun <= g.cols) {
          const std::int32_t a = row[(x - 1) * step];
          bool flat = up[(x - 1) * step] == a;
          for (std::size_t m = x; flat && m < x + kRun; ++m) flat = up[m * step] == a && zero_row[m];
          if (flat) {
            if (run(row + x * step, step, a)) {
              x += kRun;  // zero_row stays 1, left_zero stays 1
              continue;
            }
            no_run_until = x + kRun;
          }
        }
        one(x, row[(x - 1) * step], up[x * step], up[(x - 1) * step]);
        ++x;
      }
    }
  }
}

// Whole chunk: LOCO-I prediction + adaptive range coding.
inline void encode(const std::int16_t* in, const Geometry& g, std::vector<std::uint8_t>& out) {
  out.clear();
  out.reserve(g.values() / 4 + 16);
  RangeEncoder rc(out);
  auto model = std::make_unique<Model>();
  raster(
      g, in,
      [&](const std::int16_t& v, std::int32_t pred, unsigned ctx) {
        const unsigned z = zigzag(v, pred);
        rc.bit(model->zero[ctx], z != 0);
        if (z == 0) return true;
        const unsigned m = z - 1u;
        unsigned n = 0;
        while ((m >> n) != 0) ++n;  // bit length, 0..16
        for (unsigned i = 0; i < n; ++i) rc.bit(model->length[ctx][i], 1);
        if (n < 16) rc.bit(model->length[ctx][n], 0);
        for (int i = static_cast<int>(n) - 2; i >= 0; --i) rc.bit(model->bits[n][i], (m >> i) & 1u);
        return false;
      },
      [&](const std::int16_t* at, std::size_t step, std::int32_t a) {
        bool all = true;
        for (std::size_t m = 0; all && m < kRun; ++m) all = at[m * step] == a;
        rc.bit(model->run, all ? 1u : 0u);
        return all;
      });
  rc.finish();
}

// Whole chunk back into `out` (g.values() int16). Returns false on corrupt data.
inline bool decode(const std::uint8_t* data, std::size_t bytes, const Geometry& g, std::int16_t* out) {
  RangeDecoder rc(data, bytes);
  auto model = std::make_unique<Model>();
  bool ok = true;
  raster(
      g, out,
      [&](std::int16_t& v, std::int32_t pred, unsigned ctx) {
        std::uint16_t z = 0;
        if (rc.bit(model->zero[ctx])) {
          unsigned n = 0;
          while (n < 16 && rc.bit(model->length[ctx][n])) ++n;
          unsigned m = n ? 1u << (n - 1) : 0;
          for (int i = static_cast<int>(n) - 2; i >= 0; --i) m |= rc.bit(model->bits[n][i]) << i;
          if (m >= 0xFFFFu) ok = false;
          z = static_cast<std::uint16_t>(m + 1);
        }
        v = unzigzag(z, pred);
        return z == 0;
      },
      [&](std::int16_t* at, std::size_t step, std::int32_t a) {
        if (!rc.bit(model->run)) return false;
        for (std::size_t m = 0; m < kRun; ++m) at[m * step] = static_cast<std::int16_t>(a);
        return true;
      });
  return ok && !rc.overrun();
}

}  // namespace mme::loco
