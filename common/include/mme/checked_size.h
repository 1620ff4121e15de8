#pragma once
// Sizes read from files someone else made (a safetensors shape, a pickled tensor's size and
// strides, a LOCO chunk's geometry, a JPEG header): multiplied without a check, a damaged or
// hostile header wraps around 64 bits and passes every later test (the shape [77158673929,
// 239075442] counts as 2 elements). Each product of such sizes goes through here instead.
#include <cstdint>
#include <initializer_list>
#include <optional>

namespace mme {

// a * b, or nothing when it exceeds `limit` (an overflow included).
inline std::optional<std::uint64_t> checked_mul(std::uint64_t a, std::uint64_t b, std::uint64_t limit = UINT64_MAX) {
  std::uint64_t product = 0;
  if (__builtin_mul_overflow(a, b, &product) || product > limit) return std::nullopt;
  return product;
}

// The product of `factors` (none: 1), or nothing when it exceeds `limit`. A zero factor makes it 0
// whatever the others. Negative factors must be refused before (cast, they count as huge).
template <typename Range>
std::optional<std::uint64_t> checked_product(const Range& factors, std::uint64_t limit = UINT64_MAX) {
  for (const auto factor : factors)
    if (factor == 0) return 0;
  std::uint64_t product = 1;
  for (const auto factor : factors) {
    const auto next = checked_mul(product, static_cast<std::uint64_t>(factor), limit);
    if (!next) return std::nullopt;
    product = *next;
  }
  return product;
}

inline std::optional<std::uint64_t> checked_product(std::initializer_list<std::uint64_t> factors,
                                                    std::uint64_t limit = UINT64_MAX) {
  return checked_product<std::initializer_list<std::uint64_t>>(factors, limit);
}

}  // namespace mme
