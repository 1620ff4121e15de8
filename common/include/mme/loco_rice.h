#pragma once
// The trajectory chunk coder: LOCO-I's prediction (loco_transform.h) with Golomb-Rice codes whose
// parameters are chosen per chunk, instead of the adaptive range coder.
//
// Why a second coder: the range coder spends ~6 ns per binary decision, and 1/16-px trajectory
// steps are noisy (a third of their residuals are zero, against ~98% for flow), so they need ~3
// decisions per value: coding a start's 9,600 values cost a quarter of decoding a 153,600-value
// flow field, and was trajgen's largest cost after that decoding. A Rice code is one shift and
// one write per value; its files are ~1.4x larger (2.9 against 2.1 bits per value on the sample
// videos' trajectories), which is small next to the flow.
//
// Chunk layout:
//   header: per channel, kContexts Rice parameters k (one byte each, 0..15)
//   body:   MSB-first bit stream; per value, in the same channel-planar raster order and with the
//           same prediction (median edge detector of left a, upper b, upper-left c; first row
//           a = b = c = left, or 0; first column a = b = c = upper) and the same activity buckets
//           as loco_transform.h: z = zigzag(residual mod 2^16), q = z >> k(channel, bucket);
//           q < kEscape: q zero bits, a one, the k low bits of z;
//           else: kEscape zero bits, a one, z in 16 bits.
// The parameters are chosen before the codes are written: for each (channel, bucket), the k that
// makes the code of its residuals shortest, costed from a histogram of their bit widths.
#include <mme/loco_transform.h>

#include <array>
#include <bit>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <vector>

namespace mme::loco {

namespace rice {

constexpr int kContexts = Model::kActivity;  // the activity buckets
constexpr std::size_t kMaxChannels = 32;     // the format's limit, which readers check
constexpr int kMaxK = 15;
constexpr unsigned kEscape = 24;

// Calls visit(value, prediction, bucket) for every value in coding order. For the decoder the
// values are written by visit before they serve as neighbours.
template <typename Value, typename Visit>
inline void walk(const Geometry& g, Value* values, Visit&& visit) {
  if (g.cols == 0) return;  // no values (rows of nothing)
  const std::size_t step = g.channels, stride = g.cols * g.channels;
  for (std::size_t k = 0; k < g.channels; ++k) {
    for (std::size_t y = 0; y < g.rows; ++y) {
      Value* row = values + y * stride + k;
      if (y == 0) {
        for (std::size_t x = 0; x < g.cols; ++x) {
          const std::int32_t a = x ? row[(x - 1) * step] : 0;
          visit(k, row[x * step], a, 0);
        }
        continue;
      }
      const Value* up = row - stride;
      visit(k, row[0], static_cast<std::int32_t>(up[0]), 0);
      for (std::size_t x = 1; x < g.cols; ++x) {
        const std::int32_t a = row[(x - 1) * step], b = up[x * step], c = up[(x - 1) * step];
        visit(k, row[x * step], median_edge(a, b, c), Model::activity(a, b, c));
      }
    }
  }
}

// Code length of z under parameter k.
constexpr unsigned length(unsigned z, int k) {
  const unsigned q = z >> k;
  return q < kEscape ? q + 1 + static_cast<unsigned>(k) : kEscape + 1 + 16;
}

// The code length under parameter k that stands for every z of bit width w (0..16): the mean of
// the lengths of 2^(w-1) and 2^w - 1, between which the lengths of those z lie; close enough to
// choose k (the decoder reads k from the header, so the choice never affects correctness).
constexpr auto kLengths = [] {
  std::array<std::array<std::uint8_t, 17>, kMaxK + 1> t{};
  for (int k = 0; k <= kMaxK; ++k) {
    t[k][0] = static_cast<std::uint8_t>(length(0, k));
    for (unsigned w = 1; w <= 16; ++w)
      t[k][w] = static_cast<std::uint8_t>((length(1u << (w - 1), k) + length((1u << w) - 1, k)) / 2);
  }
  return t;
}();

// The activity bucket of d = |a - c| + |b - c| (Model::activity's table) as a sum of comparisons,
// which vectorises where the table lookup does not. test_loco checks the two agree for every d.
constexpr unsigned bucket_of(std::uint32_t d) {
  return (d >= 1) + (d >= 2) + (d >= 3) + (d >= 5) + (d >= 9) + (d >= 17) + (d >= 33);
}

// The bit width of z < 2^16 from the exponent of its float (exact), which vectorises where
// std::bit_width does not.
inline unsigned bit_width16(unsigned z) {
  const auto e = static_cast<int>(std::bit_cast<std::uint32_t>(static_cast<float>(z)) >> 23) - 126;
  return static_cast<unsigned>(e > 0 ? e : 0);
}

// What pass 1 of the encoder keeps of each value besides its residual: its activity bucket and
// the bit width of its residual, as bucket << 5 | width (< 256).
inline std::uint8_t tag(unsigned bucket, unsigned z) {
  return static_cast<std::uint8_t>(bucket << 5 | bit_width16(z));
}

// Pass 1 of the encoder for one row of `n` values (cols x ch, interleaved): each value's zigzag
// residual from its prediction, as walk() defines it, and its tag; `up` is the row above, or null
// for the first row.
inline void residuals(const std::int16_t* row, const std::int16_t* up, std::size_t ch, std::size_t n, std::uint16_t* z,
                      std::uint8_t* tags) {
  for (std::size_t i = 0; i < ch && i < n; ++i) {  // first column: the upper value, or 0
    z[i] = static_cast<std::uint16_t>(zigzag(row[i], up ? up[i] : 0));
    tags[i] = tag(0, z[i]);
  }
  if (!up) {  // first row: the left value
    for (std::size_t i = ch; i < n; ++i) {
      const unsigned zz = zigzag(row[i], row[i - ch]);
      z[i] = static_cast<std::uint16_t>(zz);
      tags[i] = tag(0, zz);
    }
    return;
  }
  for (std::size_t i = ch; i < n; ++i) {
    const std::int32_t a = row[i - ch], b = up[i], c = up[i - ch];
    const unsigned zz = zigzag(row[i], median_edge(a, b, c));
    z[i] = static_cast<std::uint16_t>(zz);
    tags[i] = tag(bucket_of(static_cast<std::uint32_t>(Model::activity_distance(a, b, c))), zz);
  }
}

// MSB-first bits into a buffer the caller sized for the worst case (no capacity checks: this is
// the encoder's inner loop).
class BitWriter {
 public:
  explicit BitWriter(std::uint8_t* out) : begin_(out), p_(out) {}
  void put(std::uint64_t bits, unsigned n) {  // n <= 32
    acc_ = (acc_ << n) | bits;
    pending_ += n;
    if (pending_ >= 32) {
      pending_ -= 32;
      const auto w = static_cast<std::uint32_t>(acc_ >> pending_);
      p_[0] = static_cast<std::uint8_t>(w >> 24);
      p_[1] = static_cast<std::uint8_t>(w >> 16);
      p_[2] = static_cast<std::uint8_t>(w >> 8);
      p_[3] = static_cast<std::uint8_t>(w);
      p_ += 4;
    }
  }
  // Flushes the last bits (zero-padded to a byte); returns the bytes written.
  std::size_t finish() {
    while (pending_ >= 8) {
      pending_ -= 8;
      *p_++ = static_cast<std::uint8_t>(acc_ >> pending_);
    }
    if (pending_) *p_++ = static_cast<std::uint8_t>(acc_ << (8 - pending_));
    pending_ = 0;
    return static_cast<std::size_t>(p_ - begin_);
  }

 private:
  std::uint8_t* begin_;
  std::uint8_t* p_;
  std::uint64_t acc_ = 0;
  unsigned pending_ = 0;
};

class BitReader {
 public:
  BitReader(const std::uint8_t* data, std::size_t size) : p_(data), end_(data + size) { refill(); }
  // The number of zero bits before the next one bit (consumed with it); more than kEscape means
  // corrupt data.
  unsigned zeros_then_one() {
    refill();
    if (acc_ == 0) return kEscape + 1;  // 57+ zero bits: no valid code has that many
    const auto z = static_cast<unsigned>(std::countl_zero(acc_));
    if (z > kEscape) return kEscape + 1;  // corrupt; and a shift by z + 1 = 64 would be undefined
    acc_ <<= z + 1;
    valid_ -= static_cast<int>(z + 1);
    return z;
  }
  unsigned get(unsigned n) {  // n <= 16
    refill();
    const unsigned v = n ? static_cast<unsigned>(acc_ >> (64 - n)) : 0;
    acc_ <<= n;
    valid_ -= static_cast<int>(n);
    return v;
  }
  // Bits were read beyond the end of the stream: the data is corrupt or cut.
  bool overrun() const { return past_end_ > 8; }

 private:
  void refill() {
    while (valid_ <= 56) {
      std::uint64_t b = 0;
      if (p_ < end_)
        b = *p_++;
      else
        ++past_end_;
      acc_ |= b << (56 - valid_);
      valid_ += 8;
    }
  }
  const std::uint8_t* p_;
  const std::uint8_t* end_;
  std::uint64_t acc_ = 0;
  int valid_ = 0;  // bits of acc_ that hold data, from its top
  int past_end_ = 0;
};

}  // namespace rice

// Whole chunk: LOCO-I prediction + Golomb-Rice codes with per-chunk parameters.
//
// The encoder knows every value, so unlike the decoder it need not follow the coding order to
// predict: pass 1 goes through the rows in memory order, where the prediction and bucket of each
// value depend on the input alone and the loop vectorises; only pass 3, the bit writing, follows
// the channel-planar coding order (a stride of `channels` through pass 1's arrays).
inline void rice_encode(const std::int16_t* in, const Geometry& g, std::vector<std::uint8_t>& out) {
  using namespace rice;
  if (g.channels > kMaxChannels) throw std::invalid_argument("rice coder: more than 32 channels");
  const std::size_t ch = g.channels, stride = g.cols * ch, n = g.values();
  // Pass 1: every value's zigzag residual and tag (not zero-filled: all written).
  const auto z = std::make_unique_for_overwrite<std::uint16_t[]>(n);
  const auto tags = std::make_unique_for_overwrite<std::uint8_t[]>(n);
  for (std::size_t y = 0; stride && y < g.rows; ++y)
    residuals(in + y * stride, y ? in + (y - 1) * stride : nullptr, ch, stride, z.get() + y * stride,
              tags.get() + y * stride);
  // Pass 2: per channel, a histogram of the tags: per bucket, the residuals' bit widths, enough to
  // cost every k.
  std::vector<std::array<std::uint32_t, 256>> histogram(ch);
  for (auto& h : histogram) h.fill(0);
  for (std::size_t p = 0; p < n; p += ch)
    for (std::size_t k = 0; k < ch; ++k) ++histogram[k][tags[p + k]];
  // The best k per context, costed with the mean code length of each bit width (kLengths).
  std::vector<std::uint8_t> ks(ch * kContexts, 0);
  for (std::size_t c = 0; c < ks.size(); ++c) {
    std::uint64_t best = ~std::uint64_t{0};
    for (int k = 0; k <= kMaxK; ++k) {
      std::uint64_t cost = 0;
      for (unsigned w = 0; w <= 16; ++w)
        cost += std::uint64_t{histogram[c / kContexts][(c % kContexts) << 5 | w]} * kLengths[k][w];
      if (cost < best) {
        best = cost;
        ks[c] = static_cast<std::uint8_t>(k);
      }
    }
  }
  // Pass 3: the codes, channel after channel, into a buffer of the worst-case size (not
  // zero-filled: only the written bytes are copied out), then the header and the codes.
  const auto codes = std::make_unique_for_overwrite<std::uint8_t[]>(n * (kEscape + 1 + 16) / 8 + 8);
  BitWriter bw(codes.get());
  for (std::size_t k = 0; k < ch; ++k) {
    const std::uint8_t* k_of = ks.data() + k * kContexts;
    for (std::size_t i = k; i < n; i += ch) {
      const unsigned kk = k_of[tags[i] >> 5], zz = z[i], q = zz >> kk;
      if (q < kEscape) {
        const std::uint64_t code = (std::uint64_t{1} << kk) | (zz & ((1u << kk) - 1));
        if (q + 1 + kk <= 32) {
          bw.put(code, q + 1 + kk);
        } else {
          bw.put(0, q);
          bw.put(code, kk + 1);
        }
      } else {
        bw.put(1, kEscape + 1);
        bw.put(zz, 16);
      }
    }
  }
  const std::size_t bytes = bw.finish();
  out.assign(ks.begin(), ks.end());
  out.insert(out.end(), codes.get(), codes.get() + bytes);
}

// Whole chunk back into `out` (g.values() int16). Returns false on corrupt data.
inline bool rice_decode(const std::uint8_t* data, std::size_t bytes, const Geometry& g, std::int16_t* out) {
  using namespace rice;
  const std::size_t header = g.channels * kContexts;
  if (g.channels > kMaxChannels || bytes < header) return false;
  for (std::size_t c = 0; c < header; ++c)
    if (data[c] > kMaxK) return false;
  BitReader br(data + header, bytes - header);
  bool ok = true;
  walk(g, out, [&](std::size_t channel, std::int16_t& v, std::int32_t pred, int bucket) {
    const unsigned k = data[channel * kContexts + static_cast<std::size_t>(bucket)];
    const unsigned q = br.zeros_then_one();
    unsigned zz;
    if (q < kEscape) {
      zz = (q << k) | br.get(k);
    } else {
      zz = br.get(16);
      if (q > kEscape) ok = false;
    }
    if (zz > 0xFFFFu) ok = false;
    v = unzigzag(zz, pred);
  });
  return ok && !br.overrun();
}

}  // namespace mme::loco
