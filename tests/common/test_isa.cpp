// The hot loops' two builds (mme/isa.h): the switch, and quantisation bit-identical on both.
#include <mme/isa.h>
#include <mme/quantize.h>

#include <catch2/catch_test_macros.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "test_support.h"

using mme::isa::Level;

TEST_CASE("isa: use() switches the kernels' build and refuses one the CPU lacks", "[isa]") {
  const Level before = mme::isa::active();
  mme::isa::use(Level::baseline);
  CHECK(mme::isa::active() == Level::baseline);
  if (mme::isa::supported() == Level::x86_64_v3) {
    mme::isa::use(Level::x86_64_v3);
    CHECK(mme::isa::active() == Level::x86_64_v3);
  } else {
    CHECK_THROWS_AS(mme::isa::use(Level::x86_64_v3), std::invalid_argument);
  }
  mme::isa::use(before);
  CHECK(std::string(mme::isa::name(Level::x86_64_v3)) == "x86-64-v3");
}

TEST_CASE("isa: quantize's x86-64-v3 build gives the baseline build's values and count", "[isa][quantize]") {
  // Ordinary values, exact ties, the int16 limits and beyond, infinities, NaN, subnormals; an odd
  // count from an odd address, so that the vector loops' heads and tails run too.
  std::mt19937 rng(5);
  std::normal_distribution<float> wide(0, 2000);
  std::vector<float> values(300'007);
  for (auto& v : values) v = wide(rng);
  const float specials[] = {0.5f,
                            1.5f,
                            -0.5f,
                            -2.5f,
                            32767.5f,
                            -32768.5f,
                            32767.4f,
                            40000.f,
                            -1e30f,
                            1e30f,
                            std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(),
                            std::numeric_limits<float>::quiet_NaN(),
                            std::numeric_limits<float>::denorm_min(),
                            -0.0f,
                            4194304.5f,
                            8388609.f};
  for (std::size_t i = 0; i < values.size(); i += 97) values[i] = specials[(i / 97) % std::size(specials)];
  struct Result {
    std::vector<std::int16_t> q;
    std::int64_t saturated;
  };
  const auto [baseline, v3] = mme::test::on_both_kernel_builds([&] {
    Result r{std::vector<std::int16_t>(values.size() - 1), 0};
    r.saturated = mme::quantize(values.data() + 1, values.size() - 1, 1.0 / 8, r.q.data());
    return r;
  });
  CHECK(baseline.saturated > 0);
  CHECK(v3.saturated == baseline.saturated);
  CHECK(v3.q == baseline.q);
}
