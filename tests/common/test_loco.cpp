// The LOCO-I + range coder flow codec: exact round trips, HDF5 filter and plugin, damage.
#include <mme/loco_filter.h>
#include <mme/loco_transform.h>
#include <mme/shard_store.h>

#include <catch2/catch_test_macros.hpp>

#include <cmath>
#include <numeric>
#include <random>

#include "test_support.h"

namespace {

std::vector<std::int16_t> roundtrip(const std::vector<std::int16_t>& in, const mme::loco::Geometry& g,
                                    std::size_t* bytes = nullptr) {
  std::vector<std::uint8_t> enc;
  mme::loco::encode(in.data(), g, enc);
  if (bytes) *bytes = enc.size();
  std::vector<std::int16_t> out(in.size(), 12345);
  REQUIRE(mme::loco::decode(enc.data(), enc.size(), g, out.data()));
  return out;
}

// A smooth two-channel field at 1/8 px, like real flow.
std::vector<std::int16_t> smooth_field(std::size_t h, std::size_t w) {
  std::vector<std::int16_t> v(h * w * 2);
  for (std::size_t y = 0; y < h; ++y)
    for (std::size_t x = 0; x < w; ++x) {
      v[(y * w + x) * 2] = static_cast<std::int16_t>(std::lround(8 * 3 * std::sin(x / 40.0) * std::cos(y / 30.0)));
      v[(y * w + x) * 2 + 1] = static_cast<std::int16_t>(std::lround(8 * (1.5 + y / 100.0)));
    }
  return v;
}

}  // namespace

TEST_CASE("the flow coder round-trips every int16 exactly", "[loco]") {
  std::mt19937 rng(11);
  for (auto g : {mme::loco::Geometry{1, 1, 1}, mme::loco::Geometry{7, 13, 2}, mme::loco::Geometry{64, 48, 2},
                 mme::loco::Geometry{5, 3, 3}}) {
    INFO(g.rows << "x" << g.cols << "x" << g.channels);
    std::vector<std::int16_t> noise(g.values());
    for (auto& v : noise) v = static_cast<std::int16_t>(rng());
    CHECK(roundtrip(noise, g) == noise);
    std::vector<std::int16_t> extremes(g.values());
    for (std::size_t i = 0; i < extremes.size(); ++i) extremes[i] = i % 3 == 0 ? -32768 : (i % 3 == 1 ? 32767 : 0);
    CHECK(roundtrip(extremes, g) == extremes);
    std::vector<std::int16_t> zeros(g.values(), 0);
    CHECK(roundtrip(zeros, g) == zeros);
  }
}

TEST_CASE("smooth fields code far below their raw size", "[loco]") {
  const mme::loco::Geometry g{256, 340, 2};
  const auto field = smooth_field(256, 340);
  std::size_t bytes = 0;
  CHECK(roundtrip(field, g, &bytes) == field);
  // 348 KB raw; a smooth field is mostly zero residuals.
  CHECK(bytes < 348160 / 20);
  std::vector<std::int16_t> zeros(g.values(), 0);
  roundtrip(zeros, g, &bytes);
  // The adaptive probabilities bottom out near 1/66: ~0.022 bits per value, ~480 bytes here.
  CHECK(bytes < 600);
}

TEST_CASE("damaged coded chunks are reported, not crashed on", "[loco]") {
  const mme::loco::Geometry g{32, 32, 2};
  const auto field = smooth_field(32, 32);
  std::vector<std::uint8_t> enc;
  mme::loco::encode(field.data(), g, enc);
  std::vector<std::int16_t> out(g.values());
  // Cut short: the decoder runs out of bytes.
  CHECK_FALSE(mme::loco::decode(enc.data(), enc.size() / 4, g, out.data()));
  // Random bytes: either detected or decoded to something; never out of bounds (ASan build).
  std::mt19937 rng(5);
  std::vector<std::uint8_t> junk(enc.size());
  for (auto& b : junk) b = static_cast<std::uint8_t>(rng());
  (void)mme::loco::decode(junk.data(), junk.size(), g, out.data());
}

TEST_CASE("the loco HDF5 filter: direct chunks, H5Dread and h5py through the plugin", "[loco][shard_store]") {
  mme::test::TempDir dir;
  const auto path = dir / "flow.h5";
  const std::uint64_t T = 3, H = 48, W = 64;
  std::vector<std::int16_t> flow;
  for (std::uint64_t t = 0; t < T; ++t) {
    auto f = smooth_field(H, W);
    for (auto& v : f) v = static_cast<std::int16_t>(v + t);
    flow.insert(flow.end(), f.begin(), f.end());
  }
  {
    mme::ShardWriter writer(path, {"test", "{}"});
    auto v = writer.add_video("clip.mp4");
    v.write_dataset("flow", {mme::DType::i16, {T, H, W, 2}, {1, H, W, 2}, mme::loco_codec({1, H, W, 2})}, flow.data());
    writer.commit();
  }
  auto ds = mme::ShardReader(path).video("clip.mp4").dataset("flow");
  CHECK(ds.read<std::int16_t>() == flow);  // HDF5's filter pipeline, our filter registered in-process
  std::uint32_t mask = 0;
  const auto chunk = ds.decode_chunk(ds.read_encoded_chunk({1, 0, 0, 0}, &mask), mask);
  REQUIRE(chunk.size() == H * W * 2 * 2);
  CHECK(std::memcmp(chunk.data(), flow.data() + H * W * 2, chunk.size()) == 0);

  const long long sum = std::accumulate(flow.begin(), flow.end(), 0LL);
  mme::test::run_checked("HDF5_PLUGIN_PATH=" + std::string(MME_LOCO_PLUGIN_DIR) + " " + mme::test::system_python() +
                         " -c \"import h5py; d = h5py.File('" + path.string() +
                         "', 'r')['videos']['clip.mp4']['flow'][...]; assert d.shape == (3, 48, 64, 2); "
                         "assert int(d.astype('int64').sum()) == " +
                         std::to_string(sum) + ", d.sum()\"");
  // h5dump too (the plugin is found the same way).
  mme::test::run_checked("HDF5_PLUGIN_PATH=" + std::string(MME_LOCO_PLUGIN_DIR) +
                         " h5dump -d /videos/clip.mp4/flow -c 4 '" + path.string() + "'");
}
