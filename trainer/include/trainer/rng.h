#pragma once
// The loader's randomness. Every clip draws from its own stream, derived from (seed, epoch, slot),
// so a clip does not depend on which thread made it or on what came before it: a resumed run sees
// exactly the clips the uninterrupted run saw. SplitMix64 is tiny and gives the same numbers on
// every platform (std:: distributions do not promise that).
#include <cmath>
#include <cstdint>

namespace trainer {

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  // A stream for (seed, a, b): independent of the order streams are made in.
  static Rng stream(std::uint64_t seed, std::uint64_t a, std::uint64_t b = 0) {
    Rng r(seed ^ 0x5851f42d4c957f2dULL);
    r.state_ ^= r.next() + a * 0x9e3779b97f4a7c15ULL;
    r.state_ ^= r.next() + b * 0xbf58476d1ce4e5b9ULL;
    r.next();
    return r;
  }
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n); n > 0. The modulo bias is below 2^-40 for any n used here.
  std::uint64_t uniform(std::uint64_t n) { return next() % n; }
  double uniform01() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  // Standard normal (Box-Muller; one draw per call, so a stream's position is easy to reason about).
  double normal() {
    const double u = 1.0 - uniform01();  // (0, 1]
    return std::sqrt(-2.0 * std::log(u)) * std::cos(6.283185307179586 * uniform01());
  }
  // Gamma(shape, 1) (Marsaglia and Tsang; shape < 1 through Gamma(shape + 1) x U^(1/shape)).
  double gamma(double shape) {
    if (shape < 1) return gamma(shape + 1) * std::pow(1.0 - uniform01(), 1.0 / shape);
    const double d = shape - 1.0 / 3, c = 1 / std::sqrt(9 * d);
    for (;;) {
      double x, v;
      do {
        x = normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const double u = 1.0 - uniform01();
      if (std::log(u) < 0.5 * x * x + d - d * v + d * std::log(v)) return d * v;
    }
  }
  // Beta(a, b) from two gammas.
  double beta(double a, double b) {
    const double x = gamma(a), y = gamma(b);
    return x / (x + y);
  }

 private:
  std::uint64_t state_;
};

}  // namespace trainer
