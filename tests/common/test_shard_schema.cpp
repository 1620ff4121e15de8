// The shard schema (mme/shard_schema.h) is the one list of stored names: the docs are generated
// from it, the store enforces its types, and a dataset whose filters have no codec here says why.
#include <mme/shard_schema.h>
#include <mme/shard_store.h>

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <hdf5.h>

#include <cstring>

#include <regex>
#include <set>

#include "test_support.h"

using Catch::Matchers::ContainsSubstring;
namespace schema = mme::schema;

TEST_CASE("docs/formats.md holds the field reference generated from the schema", "[schema]") {
  const auto file = mme::test::source_dir() / "docs" / "formats.md";
  const std::string text = mme::test::read_file(file);
  INFO("regenerate it: build/release/common/mme-schema --update docs/formats.md");
  CHECK(schema::with_current_reference(text) == text);
}

TEST_CASE("the field reference lists every name the schema header declares", "[schema]") {
  const std::string header =
      mme::test::read_file(mme::test::source_dir() / "common" / "include" / "mme" / "shard_schema.h");
  const std::regex declaration(R"re(inline constexpr (Attribute<[^>]+>|Dataset|ConfigKey) \w+\{"(\w+)")re");
  const std::string reference = schema::markdown_reference();
  std::size_t declared = 0;
  for (auto it = std::sregex_iterator(header.begin(), header.end(), declaration); it != std::sregex_iterator(); ++it) {
    ++declared;
    const std::string name = (*it)[2].str();
    INFO(name);
    CHECK(reference.find("| `" + name + "` |") != std::string::npos);
  }
  CHECK(declared > 50);
  CHECK(schema::reference_size() == declared);
}

TEST_CASE("the store writes and reads the schema's names with their types", "[schema]") {
  mme::test::TempDir dir;
  const auto path = dir / "part.h5";
  {
    mme::ShardWriter writer(path, {"test", "{}"});
    auto video = writer.add_video("a/b.mp4");
    video.set(schema::video::frames, 3);
    video.set(schema::video::fps, 29.97);
    video.set(schema::target::motion_box_union, std::vector<double>{1, 2, 3, 4});
    const std::vector<double> times{0, 0.5, 1};
    video.write_dataset(schema::flow::timestamps, {mme::DType::f64, {3}, {3}}, times.data());
    // Another element type than the schema's is a bug of the writer, refused before anything is written.
    const std::vector<float> wrong{0, 0.5f, 1};
    CHECK_THROWS_WITH(video.write_dataset(schema::flow::timestamps, {mme::DType::f32, {3}, {3}}, wrong.data()),
                      ContainsSubstring("'timestamps' is float64 in the schema, not float32"));
    writer.commit();
  }
  mme::ShardReader reader(path);
  CHECK(reader.get(schema::root::format) == schema::root::kFormatName);
  CHECK(reader.get(schema::root::tool) == "test");
  const auto video = reader.video("a/b.mp4");
  CHECK(video.id() == "a/b.mp4");
  CHECK(video.get_int("frames") == 3);  // the schema's name is the stored name
  CHECK(video.get(schema::video::fps) == 29.97);
  CHECK(video.get(schema::target::motion_box_union) == std::vector<double>{1, 2, 3, 4});
  CHECK(video.dataset(schema::flow::timestamps).read<double>() == std::vector<double>{0, 0.5, 1});
  CHECK(!video.has_dataset(schema::flow::flow));
}

TEST_CASE("a dataset whose filters have no codec here reads through HDF5 and says why it cannot decode chunks",
          "[schema]") {
  mme::test::TempDir dir;
  const auto path = dir / "part.h5";
  {
    mme::ShardWriter writer(path, {"test", "{}"});
    writer.add_video("v");
    writer.commit();
  }
  // Another program adds datasets with HDF5's Fletcher-32 filter (which our checked raw codec
  // writes and reads: the same bytes as HDF5's) and its scale-offset filter (no codec here).
  const std::int32_t values[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  {
    const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    REQUIRE(file >= 0);
    const hsize_t dims[1] = {8}, chunk[1] = {4};
    const hid_t space = H5Screate_simple(1, dims, nullptr);
    for (const char* name : {"/videos/v/checked", "/videos/v/scaled"}) {
      const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
      H5Pset_chunk(dcpl, 1, chunk);
      if (std::string(name).find("checked") != std::string::npos)
        H5Pset_fletcher32(dcpl);
      else
        H5Pset_scaleoffset(dcpl, H5Z_SO_INT, H5Z_SO_INT_MINBITS_DEFAULT);
      const hid_t ds = H5Dcreate2(file, name, H5T_STD_I32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
      REQUIRE(ds >= 0);
      REQUIRE(H5Dwrite(ds, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, values) >= 0);
      H5Dclose(ds);
      H5Pclose(dcpl);
    }
    H5Sclose(space);
    H5Fclose(file);
  }
  mme::ShardReader reader(path);
  const auto checked = reader.video("v").dataset("checked");
  const auto stored = checked.read_encoded_chunks({0});
  const auto decoded = checked.decode_chunk(stored.at(0));
  REQUIRE(decoded.size() == 16);
  CHECK(std::memcmp(decoded.data(), values, 16) == 0);
  CHECK(mme::checked_raw_codec()->encode(values, 16, 4) == stored.at(0).bytes);  // HDF5's checksum, byte for byte
  auto damaged = stored.at(0);
  damaged.bytes[2] ^= 0x10;
  CHECK_THROWS_WITH(checked.decode_chunk(damaged), ContainsSubstring("Fletcher-32 checksum does not match"));

  const auto scaled = reader.video("v").dataset("scaled");
  CHECK(scaled.read<std::int32_t>() == std::vector<std::int32_t>{1, 2, 3, 4, 5, 6, 7, 8});
  const auto chunk = scaled.read_encoded_chunks({0});
  CHECK_THROWS_WITH(
      scaled.decode_chunk(chunk.at(0)),
      ContainsSubstring("/videos/v/scaled") && ContainsSubstring("no chunk codec for the filter pipeline [6]"));
}
