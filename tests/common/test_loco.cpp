// The LOCO-I flow codec with its two coders (range, Rice): exact round trips, HDF5 filter and
// plugin, damage.
#include <mme/loco_filter.h>
#include <mme/loco_rice.h>
#include <mme/loco_transform.h>
#include <mme/shard_store.h>

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <array>
#include <cmath>
#include <fstream>
#include <numeric>
#include <random>

#include "test_support.h"

using Catch::Matchers::ContainsSubstring;

namespace {

std::vector<std::int16_t> roundtrip(const std::vector<std::int16_t>& in, const mme::loco::Geometry& g,
                                    std::size_t* bytes = nullptr, mme::LocoCoder coder = mme::LocoCoder::range) {
  std::vector<std::uint8_t> enc;
  const bool rice = coder == mme::LocoCoder::rice;
  rice ? mme::loco::rice_encode(in.data(), g, enc) : mme::loco::encode(in.data(), g, enc);
  if (bytes) *bytes = enc.size();
  std::vector<std::int16_t> out(in.size(), 12345);
  REQUIRE((rice ? mme::loco::rice_decode(enc.data(), enc.size(), g, out.data())
                : mme::loco::decode(enc.data(), enc.size(), g, out.data())));
  return out;
}

// Trajectory-like chunk [rows][seeds x L][2] at 1/16 px: smooth motion plus +-2 px noise.
std::vector<std::int16_t> noisy_tracks(std::size_t rows, std::size_t cols, std::mt19937& rng) {
  std::normal_distribution<double> noise(0, 2 * 16);
  std::vector<std::int16_t> v(rows * cols * 2);
  for (std::size_t y = 0; y < rows; ++y)
    for (std::size_t x = 0; x < cols; ++x) {
      v[(y * cols + x) * 2] = static_cast<std::int16_t>(std::lround(16 * 4 * std::sin(x / 50.0) + noise(rng)));
      v[(y * cols + x) * 2 + 1] = static_cast<std::int16_t>(std::lround(16 * (y / 10.0) + noise(rng)));
    }
  return v;
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

TEST_CASE("both coders round-trip every int16 exactly", "[loco]") {
  std::mt19937 rng(11);
  for (auto coder : {mme::LocoCoder::range, mme::LocoCoder::rice})
    for (auto g : {mme::loco::Geometry{1, 1, 1}, mme::loco::Geometry{7, 13, 2}, mme::loco::Geometry{64, 48, 2},
                   mme::loco::Geometry{5, 3, 3}, mme::loco::Geometry{9, 11, 8}, mme::loco::Geometry{3, 40, 5}}) {
      INFO(g.rows << "x" << g.cols << "x" << g.channels << " coder " << static_cast<int>(coder));
      std::vector<std::int16_t> noise(g.values());
      for (auto& v : noise) v = static_cast<std::int16_t>(rng());
      CHECK(roundtrip(noise, g, nullptr, coder) == noise);
      std::vector<std::int16_t> extremes(g.values());
      for (std::size_t i = 0; i < extremes.size(); ++i) extremes[i] = i % 3 == 0 ? -32768 : (i % 3 == 1 ? 32767 : 0);
      CHECK(roundtrip(extremes, g, nullptr, coder) == extremes);
      std::vector<std::int16_t> zeros(g.values(), 0);
      CHECK(roundtrip(zeros, g, nullptr, coder) == zeros);
      const auto tracks = noisy_tracks(g.rows, g.cols, rng);
      CHECK(roundtrip(tracks, {g.rows, g.cols, 2}, nullptr, coder) == tracks);
    }
}

TEST_CASE("the Rice encoder writes the documented codes in walk() order", "[loco]") {
  // The encoder predicts row by row in memory order (vectorised); the format is defined by walk(),
  // channel by channel. Rebuild the stream bit by bit from walk(), Model::activity and the header's
  // parameters, and compare.
  CHECK(mme::loco::rice::bucket_of(0) == 0);
  for (std::int32_t d = 0; d <= 2 * 65535; ++d)
    if (static_cast<int>(mme::loco::rice::bucket_of(static_cast<std::uint32_t>(d))) !=
        mme::loco::Model::activity(d, 0, 0))
      FAIL("bucket_of(" << d << ") differs from Model::activity");
  std::mt19937 rng(5);
  for (auto g : {mme::loco::Geometry{1, 9, 3}, mme::loco::Geometry{12, 17, 8}, mme::loco::Geometry{6, 5, 1}}) {
    INFO(g.rows << "x" << g.cols << "x" << g.channels);
    std::vector<std::int16_t> v(g.values());
    std::uniform_int_distribution<int> wide(-32768, 32767), small(-40, 40);
    for (std::size_t i = 0; i < v.size(); ++i)
      v[i] = static_cast<std::int16_t>(i % 7 == 0 ? wide(rng) : small(rng) + static_cast<int>(i % 50));
    std::vector<std::uint8_t> enc;
    mme::loco::rice_encode(v.data(), g, enc);
    const std::size_t header = g.channels * mme::loco::rice::kContexts;
    REQUIRE(enc.size() >= header);
    std::vector<bool> bits;
    const auto put = [&](unsigned value, unsigned n) {
      for (unsigned b = n; b-- > 0;) bits.push_back((value >> b) & 1u);
    };
    mme::loco::rice::walk(g, v.data(), [&](std::size_t channel, std::int16_t value, std::int32_t pred, int bucket) {
      const unsigned k = enc[channel * mme::loco::rice::kContexts + static_cast<std::size_t>(bucket)];
      const unsigned z = mme::loco::zigzag(value, pred), q = z >> k;
      if (q < mme::loco::rice::kEscape) {
        put(0, q);
        put(1, 1);
        put(z & ((1u << k) - 1), k);
      } else {
        put(0, mme::loco::rice::kEscape);
        put(1, 1);
        put(z, 16);
      }
    });
    while (bits.size() % 8) bits.push_back(false);
    std::vector<std::uint8_t> expected(enc.begin(), enc.begin() + static_cast<std::ptrdiff_t>(header));
    for (std::size_t i = 0; i < bits.size(); i += 8) {
      unsigned byte = 0;
      for (std::size_t b = 0; b < 8; ++b) byte = byte << 1 | (bits[i + b] ? 1u : 0u);
      expected.push_back(static_cast<std::uint8_t>(byte));
    }
    CHECK(enc == expected);
  }
}

TEST_CASE("Rice codes of noisy tracks: near their entropy, at most 1.5x the range coder's size", "[loco]") {
  std::mt19937 rng(3);
  const mme::loco::Geometry g{40, 53 * 4, 2};
  const auto tracks = noisy_tracks(g.rows, g.cols, rng);
  std::size_t range_bytes = 0, rice_bytes = 0;
  CHECK(roundtrip(tracks, g, &range_bytes, mme::LocoCoder::range) == tracks);
  CHECK(roundtrip(tracks, g, &rice_bytes, mme::LocoCoder::rice) == tracks);
  // Gaussian noise of sigma 32 leaves MED residuals of sigma 32-55 (by the branch taken), whose
  // entropy log2(sigma sqrt(2 pi e)) is 7.0-7.8 bits per value; raw int16 is 16.
  const double rice_bits = 8.0 * static_cast<double>(rice_bytes) / static_cast<double>(g.values());
  INFO("range " << range_bytes << " B, rice " << rice_bytes << " B, " << rice_bits << " bits/value");
  CHECK(rice_bits < 9.5);
  CHECK(rice_bytes < 1.5 * static_cast<double>(range_bytes));
}

TEST_CASE("the Rice encoder's x86-64-v3 build writes the baseline build's bytes", "[loco][isa]") {
  // Through the codec (which picks the build), on trajectory chunks [1, gh, gw, L, 2] of several
  // shapes: one seed, a row, widths that leave vector tails, and values from still to saturated.
  std::mt19937 rng(11);
  for (const auto& [gh, gw, L] : {std::array{1, 1, 4}, {1, 37, 4}, {30, 40, 4}, {23, 29, 7}, {60, 80, 20}}) {
    INFO(gh << "x" << gw << " L " << L);
    const std::vector<std::uint64_t> chunk{1, std::uint64_t(gh), std::uint64_t(gw), std::uint64_t(L), 2};
    auto values = noisy_tracks(static_cast<std::size_t>(gh), static_cast<std::size_t>(gw * L), rng);
    for (std::size_t i = 0; i < values.size(); i += 53) values[i] = i % 106 ? 32767 : -32768;
    const auto codec = mme::loco_codec(chunk, 2, mme::LocoCoder::rice);
    const auto [baseline, v3] =
        mme::test::on_both_kernel_builds([&] { return codec->encode(values.data(), values.size() * 2, 2); });
    CHECK(v3 == baseline);
    CHECK(codec->decode(v3.data(), v3.size(), 2, values.size() * 2, 0) ==
          std::vector<std::uint8_t>(reinterpret_cast<const std::uint8_t*>(values.data()),
                                    reinterpret_cast<const std::uint8_t*>(values.data() + values.size())));
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

  // The Rice coder: cut short, a header with an impossible parameter, random bytes.
  mme::loco::rice_encode(field.data(), g, enc);
  CHECK_FALSE(mme::loco::rice_decode(enc.data(), enc.size() / 4, g, out.data()));
  CHECK_FALSE(mme::loco::rice_decode(enc.data(), 3, g, out.data()));
  auto bad = enc;
  bad[0] = 200;
  CHECK_FALSE(mme::loco::rice_decode(bad.data(), bad.size(), g, out.data()));
  (void)mme::loco::rice_decode(junk.data(), junk.size(), g, out.data());
  std::vector<std::uint8_t> zeros(enc.size(), 0);  // nothing but zero bits: no code ends
  CHECK_FALSE(mme::loco::rice_decode(zeros.data(), zeros.size(), g, out.data()));
  // 63 zero bits, then a one, filling the reader's whole window: refused (and no shift by 64,
  // which the sanitizer build would report).
  std::vector<std::uint8_t> long_run(16, 0);  // the header: k = 0 everywhere
  for (int i = 0; i < 7; ++i) long_run.push_back(0);
  long_run.push_back(1);
  CHECK_FALSE(mme::loco::rice_decode(long_run.data(), long_run.size(), g, out.data()));
}

TEST_CASE("odd geometries: no values, and more channels than the Rice contexts hold", "[loco]") {
  const mme::loco::Geometry empty{3, 0, 2};
  std::vector<std::uint8_t> enc;
  std::int16_t none = 7;
  mme::loco::encode(&none, empty, enc);
  CHECK(mme::loco::decode(enc.data(), enc.size(), empty, &none));
  mme::loco::rice_encode(&none, empty, enc);
  CHECK(mme::loco::rice_decode(enc.data(), enc.size(), empty, &none));
  CHECK(none == 7);  // nothing written

  const mme::loco::Geometry wide{2, 2, 33};
  std::vector<std::int16_t> v(wide.values(), 1);
  CHECK_THROWS_AS(mme::loco::rice_encode(v.data(), wide, enc), std::invalid_argument);
  std::vector<std::uint8_t> junk(1024, 0);
  CHECK_FALSE(mme::loco::rice_decode(junk.data(), junk.size(), wide, v.data()));
  CHECK(roundtrip(v, wide) == v);  // the range coder has no such limit
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
    v.write_dataset(
        "traj", {mme::DType::i16, {T, H, W, 2}, {1, H, W, 2}, mme::loco_codec({1, H, W, 2}, 1, mme::LocoCoder::rice)},
        flow.data());
    writer.commit();
  }
  auto ds = mme::ShardReader(path).video("clip.mp4").dataset("flow");
  CHECK(ds.read<std::int16_t>() == flow);  // HDF5's filter pipeline, our filter registered in-process
  auto rice_ds = mme::ShardReader(path).video("clip.mp4").dataset("traj");
  CHECK(rice_ds.read<std::int16_t>() == flow);  // the coder is found from the file alone
  std::uint32_t rice_mask = 0;
  const auto rice_chunk = rice_ds.decode_chunk(rice_ds.read_encoded_chunk({2, 0, 0, 0}, &rice_mask), rice_mask);
  REQUIRE(rice_chunk.size() == H * W * 2 * 2);
  CHECK(std::memcmp(rice_chunk.data(), flow.data() + 2 * H * W * 2, rice_chunk.size()) == 0);
  std::uint32_t mask = 0;
  const auto chunk = ds.decode_chunk(ds.read_encoded_chunk({1, 0, 0, 0}, &mask), mask);
  REQUIRE(chunk.size() == H * W * 2 * 2);
  CHECK(std::memcmp(chunk.data(), flow.data() + H * W * 2, chunk.size()) == 0);

  const long long sum = std::accumulate(flow.begin(), flow.end(), 0LL);
  mme::test::run_checked(
      "HDF5_PLUGIN_PATH=" + std::string(MME_LOCO_PLUGIN_DIR) + " " + mme::test::python() +
      " -c \"import h5py; v = h5py.File('" + path.string() +
      "', 'r')['videos']['clip.mp4']\nfor name, cd in (('flow', (3, 48, 64, 2, 0)), ('traj', (3, 48, 64, 2, "
      "1))):\n d = v[name][...]; assert d.shape == (3, 48, 64, 2); "
      "assert int(d.astype('int64').sum()) == " +
      std::to_string(sum) +
      ", d.sum()\n f = v[name].id.get_create_plist().get_filter_by_id(313); "
      "assert tuple(f[1]) == cd, f\"");
  // h5dump too (the plugin is found the same way).
  mme::test::run_checked("HDF5_PLUGIN_PATH=" + std::string(MME_LOCO_PLUGIN_DIR) +
                         " h5dump -d /videos/clip.mp4/flow -c 4 '" + path.string() + "'");
}

TEST_CASE("a zeroed or changed LOCO chunk is an error for our reader and for h5py; older chunks still read",
          "[loco][shard_store]") {
  mme::test::TempDir dir;
  const auto path = dir / "flow.h5";
  const std::uint64_t T = 3, H = 24, W = 32;
  std::vector<std::int16_t> flow;
  for (std::uint64_t t = 0; t < T; ++t) {
    const auto f = smooth_field(H, W);
    flow.insert(flow.end(), f.begin(), f.end());
  }
  {
    mme::ShardWriter writer(path, {"test", "{}"});
    writer.add_video("clip.mp4")
        .write_dataset("flow", {mme::DType::i16, {T, H, W, 2}, {1, H, W, 2}, mme::loco_codec({1, H, W, 2})},
                       flow.data());
    writer.commit();
  }
  // Where chunk 1 lies in the file, then zeros over it (what a torn write or a hole leaves).
  haddr_t address = 0;
  hsize_t size = 0;
  {
    const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    const hid_t ds = H5Dopen2(file, "/videos/clip.mp4/flow", H5P_DEFAULT);
    const hsize_t offset[4] = {1, 0, 0, 0};
    unsigned mask = 0;
    REQUIRE(H5Dget_chunk_info_by_coord(ds, offset, &mask, &address, &size) >= 0);
    H5Dclose(ds);
    H5Fclose(file);
  }
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(address));
    const std::vector<char> zeros(size, 0);
    f.write(zeros.data(), static_cast<std::streamsize>(zeros.size()));
  }
  const auto ds = mme::ShardReader(path).video("clip.mp4").dataset("flow");
  std::uint32_t mask = 0;
  CHECK_THROWS_WITH(ds.decode_chunk(ds.read_encoded_chunk({1, 0, 0, 0}, &mask), mask),
                    ContainsSubstring("CRC-32C does not match"));
  CHECK_NOTHROW(ds.decode_chunk(ds.read_encoded_chunk({0, 0, 0, 0}, &mask), mask));  // the others are intact
  CHECK_THROWS(ds.read<std::int16_t>());                                             // HDF5's pipeline: refused
  const auto h5py = mme::test::run_capture("HDF5_PLUGIN_PATH=" + std::string(MME_LOCO_PLUGIN_DIR) + " " +
                                           mme::test::python() + " -c \"import h5py; d = h5py.File('" + path.string() +
                                           "', 'r')['videos']['clip.mp4']['flow']\nprint(d[0].sum())\n"
                                           "d[1]\"");
  INFO(h5py.output);
  CHECK(h5py.rc != 0);  // the damaged chunk raises; the intact one read
  CHECK_THAT(h5py.output, ContainsSubstring("OSError") && ContainsSubstring("filter returned failure"));

  // Chunks of the formats written before the checksum (1: range coder, 2: Rice coder) still read.
  const auto old = dir / "old.h5";
  {
    mme::ShardWriter writer(old, {"test", "{}"});
    writer.add_video("clip.mp4");
    writer.commit();
  }
  {
    mme::register_loco_filter();
    const hid_t file = H5Fopen(old.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    const hsize_t dims[4] = {T, H, W, 2}, chunk[4] = {1, H, W, 2};
    const hid_t space = H5Screate_simple(4, dims, nullptr);
    for (const unsigned format : {1u, 2u}) {
      const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
      H5Pset_chunk(dcpl, 4, chunk);
      const unsigned cd[5] = {format, static_cast<unsigned>(H), static_cast<unsigned>(W), 2, format - 1};
      H5Pset_filter(dcpl, mme::kLocoFilterId, H5Z_FLAG_MANDATORY, 5, cd);
      const auto name = "/videos/clip.mp4/format" + std::to_string(format);
      const hid_t old_ds = H5Dcreate2(file, name.c_str(), H5T_STD_I16LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
      REQUIRE(old_ds >= 0);
      const mme::loco::Geometry g{H, W, 2};
      for (hsize_t t = 0; t < T; ++t) {
        std::vector<std::uint8_t> coded;
        if (format == 1)
          mme::loco::encode(flow.data() + t * H * W * 2, g, coded);
        else
          mme::loco::rice_encode(flow.data() + t * H * W * 2, g, coded);
        const hsize_t offset[4] = {t, 0, 0, 0};
        REQUIRE(H5Dwrite_chunk(old_ds, H5P_DEFAULT, 0, offset, coded.size(), coded.data()) >= 0);
      }
      H5Dclose(old_ds);
      H5Pclose(dcpl);
    }
    H5Sclose(space);
    H5Fclose(file);
  }
  const auto video = mme::ShardReader(old).video("clip.mp4");
  CHECK(video.dataset("format1").read<std::int16_t>() == flow);
  CHECK(video.dataset("format2").read<std::int16_t>() == flow);
}
