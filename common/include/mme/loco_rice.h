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
// The parameters are chosen in a first pass over the chunk: for each (channel, bucket), the k that
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
constexpr std::size_t kMaxChannels = 32;     // channel x bucket must fit the encoder's uint8 contexts
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
inline unsigned length(unsigned z, int k) {
  const unsigned q = z >> k;
  return q < kEscape ? q + 1 + static_cast<unsigned>(k) : kEscape + 1 + 16;
}

class BitWriter {
 public:
  explicit BitWriter(std::vector<std::uint8_t>& out) : out_(out) {}
  void put(std::uint64_t bits, unsigned n) {  // n <= 32
    acc_ = (acc_ << n) | bits;
    pending_ += n;
    if (pending_ >= 32) {
      pending_ -= 32;
      const auto w = static_cast<std::uint32_t>(acc_ >> pending_);
      const std::uint8_t b[4] = {static_cast<std::uint8_t>(w >> 24), static_cast<std::uint8_t>(w >> 16),
                                 static_cast<std::uint8_t>(w >> 8), static_cast<std::uint8_t>(w)};
      out_.insert(out_.end(), b, b + 4);
    }
  }
  void finish() {
    while (pending_ >= 8) {
      pending_ -= 8;
      out_.push_back(static_cast<std::uint8_t>(acc_ >> pending_));
    }
    if (pending_) out_.push_back(static_cast<std::uint8_t>(acc_ << (8 - pending_)));
    pending_ = 0;
  }

 private:
  std::vector<std::uint8_t>& out_;
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
inline void rice_encode(const std::int16_t* in, const Geometry& g, std::vector<std::uint8_t>& out) {
  using namespace rice;
  if (g.channels > kMaxChannels) throw std::invalid_argument("rice coder: more than 32 channels");
  // Pass 1: each (channel, bucket)'s histogram of residual bit lengths, enough to cost every k.
  std::vector<std::array<std::uint32_t, 17>> bits_histogram(g.channels * kContexts);
  for (auto& h : bits_histogram) h.fill(0);
  // Not zero-filled: pass 1 writes every entry.
  const auto z = std::make_unique_for_overwrite<std::uint16_t[]>(g.values());
  const auto context = std::make_unique_for_overwrite<std::uint8_t[]>(g.values());
  std::size_t n = 0;
  walk(g, in, [&](std::size_t channel, std::int16_t v, std::int32_t pred, int bucket) {
    const unsigned zz = zigzag(v, pred);
    z[n] = static_cast<std::uint16_t>(zz);
    context[n] = static_cast<std::uint8_t>(channel * kContexts + static_cast<std::size_t>(bucket));
    ++bits_histogram[context[n]][std::bit_width(zz)];
    ++n;
  });
  // The best k per context. The code length grows with z; for the z of bit width w it lies
  // between the lengths of 2^(w-1) and 2^w - 1, and their mean stands for it (close enough to
  // choose k; the decoder reads k from the header, so the choice never affects correctness).
  std::vector<std::uint8_t> ks(g.channels * kContexts, 0);
  for (std::size_t c = 0; c < ks.size(); ++c) {
    std::uint64_t best = ~std::uint64_t{0};
    for (int k = 0; k <= kMaxK; ++k) {
      std::uint64_t cost = bits_histogram[c][0] * length(0, k);
      for (unsigned w = 1; w <= 16; ++w)
        cost += static_cast<std::uint64_t>(bits_histogram[c][w]) *
                ((length(1u << (w - 1), k) + length((1u << w) - 1, k)) / 2);
      if (cost < best) {
        best = cost;
        ks[c] = static_cast<std::uint8_t>(k);
      }
    }
  }
  // Pass 2: the header, then the codes.
  out.assign(ks.begin(), ks.end());
  out.reserve(ks.size() + g.values() / 2 + 16);
  BitWriter bw(out);
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned k = ks[context[i]], zz = z[i], q = zz >> k;
    if (q < kEscape) {
      const std::uint64_t code = (std::uint64_t{1} << k) | (zz & ((1u << k) - 1));
      if (q + 1 + k <= 32) {
        bw.put(code, q + 1 + k);
      } else {
        bw.put(0, q);
        bw.put(code, k + 1);
      }
    } else {
      bw.put(1, kEscape + 1);
      bw.put(zz, 16);
    }
  }
  bw.finish();
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
