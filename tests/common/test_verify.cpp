// mme-verify on an output directory made by the part store: intact, then with a zeroed flow
// chunk, a frame chunk changed, a part gone and a manifest line that names the wrong part.
#include <mme/chunk_codec.h>
#include <mme/loco_filter.h>
#include <mme/part_store.h>
#include <mme/shard_schema.h>
#include <mme/verify.h>

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <hdf5.h>

#include <fstream>

#include "test_support.h"

using Catch::Matchers::ContainsSubstring;

namespace {

namespace fs = std::filesystem;

// Zeros (or flips one byte of) the stored chunk at `offset` of `dataset` in `file`.
void damage_chunk(const fs::path& file, const std::string& dataset, std::vector<hsize_t> offset, bool zero) {
  haddr_t address = 0;
  hsize_t size = 0;
  const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  const hid_t ds = H5Dopen2(f, dataset.c_str(), H5P_DEFAULT);
  unsigned mask = 0;
  REQUIRE(H5Dget_chunk_info_by_coord(ds, offset.data(), &mask, &address, &size) >= 0);
  H5Dclose(ds);
  H5Fclose(f);
  std::fstream out(file, std::ios::in | std::ios::out | std::ios::binary);
  std::vector<char> bytes(size);
  out.seekg(static_cast<std::streamoff>(address));
  out.read(bytes.data(), static_cast<std::streamsize>(size));
  if (zero)
    std::fill(bytes.begin(), bytes.end(), 0);
  else
    bytes[size / 2] ^= 0x04;
  out.seekp(static_cast<std::streamoff>(address));
  out.write(bytes.data(), static_cast<std::streamsize>(size));
}

}  // namespace

TEST_CASE("mme-verify finds zeroed and changed chunks, lost parts and a manifest that disagrees", "[verify]") {
  mme::test::TempDir dir;
  const auto out = dir / "flow";
  mme::claim_output_dir(out, mme::schema::kFlowSettingsFile, {{"algo", "test"}});
  const std::uint64_t T = 4, H = 16, W = 24;
  std::vector<std::int16_t> flow(T * H * W * 2);
  for (std::size_t i = 0; i < flow.size(); ++i) flow[i] = static_cast<std::int16_t>((i * 7) % 301 - 150);
  std::vector<std::uint8_t> frames(5000);
  for (std::size_t i = 0; i < frames.size(); ++i) frames[i] = static_cast<std::uint8_t>(i * 13);
  {
    mme::PartStore store(out, {}, {"flowgen", "{}"}, 1);
    for (const std::string id : {"a.mp4", "b.mp4", "c.mp4"}) {
      auto part = store.acquire();
      auto video = store.writer(part).add_video(id);
      video.write_dataset("flow", {mme::DType::i16, {T, H, W, 2}, {1, H, W, 2}, mme::loco_codec({1, H, W, 2})},
                          flow.data());
      video.write_dataset("frames", {mme::DType::u8, {frames.size()}, {1024}, mme::checked_raw_codec()}, frames.data());
      mme::VideoRecord record;
      record.id = id;
      record.status = "ok";
      store.release(part, record);
    }
    store.close();
  }
  const auto shard = out / "shard-00000-of-00001";
  auto report = mme::verify_output(out, 2);
  INFO(report.damaged.size());
  CHECK(report.damaged.empty());
  CHECK(report.parts == 3);
  CHECK(report.videos == 3);
  CHECK(report.chunks == 3 * (4 + 5));

  damage_chunk(shard / "part-00000.h5", "/videos/a.mp4/flow", {2, 0, 0, 0}, /*zero=*/true);
  damage_chunk(shard / "part-00001.h5", "/videos/b.mp4/frames", {3072}, /*zero=*/false);
  fs::remove(shard / "part-00002.h5");
  report = mme::verify_output(out, 2);
  std::string all;
  for (const auto& line : report.damaged) all += line + "\n";
  INFO(all);
  REQUIRE(report.damaged.size() == 3);
  CHECK_THAT(all,
             ContainsSubstring("part-00000.h5: video a.mp4: dataset flow, chunk [2, 0, 0, 0]: corrupt loco chunk"));
  CHECK_THAT(all, ContainsSubstring("part-00001.h5: video b.mp4: dataset frames, chunk [3072]: corrupt chunk: its "
                                    "Fletcher-32 checksum does not match"));
  CHECK_THAT(all, ContainsSubstring("manifest.jsonl: line 3: video c.mp4 is in shard-00000-of-00001/part-00002.h5, "
                                    "which is not there"));

  // The command line: one line per problem and exit code 3.
  const auto r = mme::test::run_capture(std::string(MME_VERIFY_BINARY) + " " + out.string());
  CHECK(r.rc == 3);
  CHECK_THAT(r.output, ContainsSubstring("damaged: ") && ContainsSubstring("3 problem(s)"));
}
