#include <mme/error.h>
#include <mme/json_file.h>
#include <mme/shard_store.h>
#include <mme/version.h>

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <catch2/catch_template_test_macros.hpp>
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <cmath>
#include <numeric>
#include <random>
#include <thread>

#include "test_support.h"

using Catch::Matchers::ContainsSubstring;
namespace fs = std::filesystem;

namespace {

mme::Provenance test_provenance() {
  return {"test", R"({"algo":"dis-fast","scale":0.125})"};
}

template <typename T>
std::vector<T> ramp(std::size_t n) {
  std::vector<T> v(n);
  std::mt19937 rng(7);
  for (std::size_t i = 0; i < n; ++i) {
    if constexpr (std::is_floating_point_v<T>)
      v[i] = static_cast<T>(std::sin(0.01 * i) * 100 + (rng() % 100) / 10.0);
    else
      v[i] = static_cast<T>(rng());
  }
  return v;
}

bool has_temporaries(const fs::path& dir) {
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().find(".tmp-") != std::string::npos) return true;
  return false;
}

}  // namespace

TEMPLATE_TEST_CASE("every dataset type round-trips through a shard", "[shard_store]", std::uint8_t, std::int8_t,
                   std::uint16_t, std::int16_t, std::uint32_t, std::int32_t, std::int64_t, float, double) {
  mme::test::TempDir dir;
  const auto path = dir / "shard.h5";
  // 5 x 33 x 20 with 2 x 16 x 8 chunks: no dimension divides evenly, so edge chunks are padded.
  const std::vector<std::uint64_t> shape{5, 33, 20}, chunk{2, 16, 8};
  const auto data = ramp<TestType>(5 * 33 * 20);
  const auto dtype = mme::dtype_of<TestType>();
  {
    mme::ShardWriter writer(path, test_provenance());
    auto video = writer.add_video("class a/video 1.mp4");
    video.write_dataset("deflated", {dtype, shape, chunk, mme::deflate_codec(4, true)}, data.data());
    video.write_dataset("raw", {dtype, shape, chunk, mme::raw_codec()}, data.data());
    video.write_dataset("deflated_noshuffle", {dtype, shape, chunk, mme::deflate_codec(9, false)}, data.data());
    video.write_dataset("deflated_rle",
                        {dtype, shape, chunk, mme::deflate_codec(1, true, mme::DeflateStrategy::run_length)},
                        data.data());
    CHECK_FALSE(fs::exists(path));  // nothing under the final name before commit
    writer.commit();
  }
  REQUIRE(fs::exists(path));
  CHECK_FALSE(has_temporaries(dir.path()));
  mme::ShardReader reader(path);
  auto video = reader.video("class a/video 1.mp4");
  for (const char* name : {"deflated", "raw", "deflated_noshuffle", "deflated_rle"}) {
    INFO(name);
    auto ds = video.dataset(name);
    CHECK(ds.info().dtype == dtype);
    CHECK(ds.info().shape == shape);
    CHECK(ds.info().chunk == chunk);
    CHECK(ds.read<TestType>() == data);
    // The chunk path: raw bytes out of HDF5, decoded by our codec (in any thread).
    std::uint32_t mask = 0;
    const auto decoded = ds.decode_chunk(ds.read_encoded_chunk({2, 16, 8}, &mask), mask);
    REQUIRE(decoded.size() == 2 * 16 * 8 * sizeof(TestType));
    TestType first{};
    std::memcpy(&first, decoded.data(), sizeof first);
    CHECK(first == data[(2 * 33 + 16) * 20 + 8]);
  }
}

TEST_CASE("float16 datasets store IEEE half precision", "[shard_store]") {
  mme::test::TempDir dir;
  const auto path = dir / "half.h5";
  const std::vector<float> values{0.f, 1.f, -2.5f, 0.099975586f, 65504.f, 1e-3f};
  {
    mme::ShardWriter writer(path, test_provenance());
    auto v = writer.add_video("v");
    // Written from float32 through HDF5's conversion is not offered; write half bits directly.
    const std::vector<std::uint16_t> bits{0x0000, 0x3c00, 0xc100, 0x2e66, 0x7bff, 0x1419};
    v.write_dataset("h", {mme::DType::f16, {6}, {6}, mme::deflate_codec()}, bits.data());
    writer.commit();
  }
  auto ds = mme::ShardReader(path).video("v").dataset("h");
  CHECK(ds.info().dtype == mme::DType::f16);
  const auto back = ds.read<float>();
  REQUIRE(back.size() == values.size());
  for (std::size_t i = 0; i < values.size(); ++i)
    CHECK(std::abs(back[i] - values[i]) <= 1e-3f * std::abs(values[i]) + 1e-6f);
}

TEST_CASE("attributes and provenance round-trip", "[shard_store]") {
  mme::test::TempDir dir;
  const auto path = dir / "attrs.h5";
  fs::path source = dir / "source.bin";
  mme::test::write_file(source, std::string(1234, 'x'));
  const auto stat = mme::SourceStat::of(source);
  {
    mme::ShardWriter writer(path, test_provenance());
    writer.set("extra", "root attribute");
    auto v = writer.add_video("dir%1/sub/clip.mp4");
    mme::ShardWriter::set_source(v, stat);
    v.set("fps", 29.97);
    v.set("native_width", 640);
    v.set("label", std::int64_t{-3});
    v.set("box", std::vector<double>{1.5, 2.5, 3.5, 4.5});
    v.set("ints", std::vector<std::int64_t>{1, -2, 3});
    v.set("label", std::int64_t{7});  // overwriting replaces
    CHECK_THROWS_AS(writer.add_video("dir%1/sub/clip.mp4"), mme::FileError);
    writer.commit();
  }
  mme::ShardReader reader(path);
  CHECK(reader.get_string("tool") == "test");
  CHECK(reader.get_string("tool_version") == mme::version());
  CHECK(reader.get_string("git_commit") == mme::git_commit());
  CHECK(reader.get_string("settings") == R"({"algo":"dis-fast","scale":0.125})");
  CHECK(reader.get_string("format") == "mme-shard");
  CHECK(reader.get_int("format_version") == mme::kShardFormatVersion);
  CHECK(reader.get_string("extra") == "root attribute");
  CHECK_THAT(reader.get_string("created"), ContainsSubstring("T"));
  REQUIRE(reader.video_ids() == std::vector<std::string>{"dir%1/sub/clip.mp4"});
  auto v = reader.video("dir%1/sub/clip.mp4");
  CHECK(v.id() == "dir%1/sub/clip.mp4");
  CHECK(v.source() == stat);
  CHECK(v.get_double("fps") == 29.97);
  CHECK(v.get_int("native_width") == 640);
  CHECK(v.get_int("label") == 7);
  CHECK(v.get_doubles("box") == std::vector<double>{1.5, 2.5, 3.5, 4.5});
  CHECK(v.get_ints("ints") == std::vector<std::int64_t>{1, -2, 3});
  CHECK_THROWS_WITH(v.get_int("missing"), ContainsSubstring("'missing' is missing"));
  CHECK_THROWS_WITH(v.get_int("fps"), ContainsSubstring("not an integer"));
  CHECK_THROWS_AS(reader.video("not/there.mp4"), mme::FileError);
}

TEST_CASE("video ids map to readable, reversible group names", "[shard_store]") {
  for (std::string id : {"a/b/c.mp4", "100%/x.avi", "plain.mkv", "%2F literal", "."}) {
    const auto key = mme::video_key(id);
    CHECK(key.find('/') == std::string::npos);
    CHECK(mme::video_id_from_key(key) == id);
  }
  CHECK(mme::video_key("abseiling/x.mp4") == "abseiling%2Fx.mp4");
  // File names in another encoding (Latin-1 "café", a cut UTF-8 sequence): bytes in the id, text
  // in the key.
  for (std::string id : {std::string("caf\xe9/t\xeate.mp4"), std::string("cut\xe2\x82.avi"), std::string("\xff")}) {
    const auto key = mme::video_key(id);
    CHECK(mme::valid_utf8(key));
    CHECK(mme::video_id_from_key(key) == id);
  }
  CHECK(mme::video_key("caf\xe9.mp4") == "caf%E9.mp4");
  CHECK(mme::video_key("caf\xc3\xa9.mp4") == "caf\xc3\xa9.mp4");  // UTF-8 stays as it is
}

TEST_CASE("a video whose name is not UTF-8 keeps its exact bytes in the shard, and h5py with os.fsencode",
          "[shard_store][python]") {
  mme::test::TempDir dir;
  const std::string id = "caf\xe9/na\xefve \xff.mp4";
  {
    mme::ShardWriter w(dir / "s.h5", test_provenance());
    auto g = w.add_video(id);
    g.set("note", std::string("r\xe9sum\xe9"));
    w.commit();
  }
  mme::ShardReader r(dir / "s.h5");
  REQUIRE(r.video_ids() == std::vector<std::string>{id});
  CHECK(r.video(id).get_string("note") == "r\xe9sum\xe9");
  const auto py = mme::test::run_capture(
      mme::test::python() +
      " -c \"import h5py, os, sys; g = h5py.File(sys.argv[1])['videos']; "
      "k = list(g)[0]; print(k, os.fsencode(g[k].attrs['id']) == b'caf\\\\xe9/na\\\\xefve \\\\xff.mp4')\" " +
      (dir / "s.h5").string());
  INFO(py.output);
  CHECK(py.rc == 0);
  CHECK_THAT(py.output, ContainsSubstring("caf%E9%2Fna%EFve %FF.mp4 True"));
}

TEST_CASE("chunks compressed in parallel threads are written and read back", "[shard_store]") {
  mme::test::TempDir dir;
  const auto path = dir / "parallel.h5";
  const std::uint64_t frames = 48, h = 24, w = 32;
  std::vector<std::int16_t> flow(frames * h * w * 2);
  for (std::size_t i = 0; i < flow.size(); ++i) flow[i] = static_cast<std::int16_t>((i * 37) % 2001 - 1000);
  {
    mme::ShardWriter writer(path, test_provenance());
    auto v = writer.add_video("v");
    auto ds = v.create_dataset("flow", {mme::DType::i16, {frames, h, w, 2}, {1, h, w, 2}, mme::deflate_codec()});
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (std::uint64_t f = t; f < frames; f += 4) {
          const auto encoded = ds.encode(flow.data() + f * h * w * 2);  // outside any lock
          ds.write_encoded_chunk({f, 0, 0, 0}, encoded);
        }
      });
    }
    for (auto& t : threads) t.join();
    writer.commit();
  }
  CHECK(mme::ShardReader(path).video("v").dataset("flow").read<std::int16_t>() == flow);
}

TEST_CASE("h5py reads our shards with HDF5's own filters", "[shard_store][python]") {
  mme::test::TempDir dir;
  const auto path = dir / "interop.h5";
  std::vector<std::int16_t> flow(3 * 8 * 10 * 2);
  std::iota(flow.begin(), flow.end(), -200);
  {
    mme::ShardWriter writer(path, test_provenance());
    auto v = writer.add_video("cls/vid.mp4");
    v.set("fps", 25.0);
    v.write_dataset("flow", {mme::DType::i16, {3, 8, 10, 2}, {1, 8, 10, 2}, mme::deflate_codec()}, flow.data());
    writer.commit();
  }
  const long long expected = std::accumulate(flow.begin(), flow.end(), 0LL);
  mme::test::run_checked(mme::test::python() + " -c \"import h5py; f = h5py.File('" + path.string() +
                         "', 'r'); g = f['videos']['cls%2Fvid.mp4']; d = g['flow'][...]; "
                         "assert g.attrs['id'] == 'cls/vid.mp4', g.attrs['id']; "
                         "assert d.shape == (3, 8, 10, 2); assert int(d.astype('int64').sum()) == " +
                         std::to_string(expected) + ", d.sum(); assert f.attrs['tool'] == 'test'\"");
}

TEST_CASE("an unfinished writer leaves nothing under the final name", "[shard_store]") {
  mme::test::TempDir dir;
  const auto path = dir / "out.h5";
  {
    mme::ShardWriter writer(path, test_provenance());
    writer.add_video("v").set("x", 1);
    CHECK(fs::exists(writer.temp_path()));
  }  // destroyed without commit
  CHECK_FALSE(fs::exists(path));
  CHECK_FALSE(has_temporaries(dir.path()));
}

TEST_CASE("a writer killed mid-write leaves no file under the final name; the next one succeeds", "[shard_store]") {
  mme::test::TempDir dir;
  const auto path = dir / "killed.h5";
  int ready[2];
  REQUIRE(pipe(ready) == 0);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // Child: write chunks forever; tell the parent once the file is well under way.
    close(ready[0]);
    try {
      mme::ShardWriter writer(path, test_provenance());
      auto v = writer.add_video("endless");
      auto ds = v.create_dataset("flow", {mme::DType::i16, {100000, 64, 64, 2}, {1, 64, 64, 2}, mme::deflate_codec(1)});
      std::vector<std::int16_t> field(64 * 64 * 2, 3);
      for (std::uint64_t f = 0;; ++f) {
        ds.write_chunk({f % 100000, 0, 0, 0}, field.data());
        if (f == 50) {
          const char c = 'x';
          if (write(ready[1], &c, 1) != 1) _exit(3);
        }
      }
    } catch (...) {
      _exit(2);
    }
    _exit(0);
  }
  close(ready[1]);
  char c = 0;
  REQUIRE(read(ready[0], &c, 1) == 1);
  close(ready[0]);
  REQUIRE(kill(child, SIGKILL) == 0);
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE(WIFSIGNALED(status));
  CHECK_FALSE(fs::exists(path));
  CHECK(has_temporaries(dir.path()));  // the dead writer's temporary, under its own name

  {
    mme::ShardWriter writer(path, test_provenance());
    std::vector<std::uint8_t> data(10, 9);
    writer.add_video("after").write_dataset("d", {mme::DType::u8, {10}, {10}, mme::raw_codec()}, data.data());
    writer.commit();
  }
  REQUIRE(fs::exists(path));
  CHECK_FALSE(has_temporaries(dir.path()));  // the stale temporary of the dead process is gone
  CHECK(mme::ShardReader(path).video("after").dataset("d").read<std::uint8_t>() == std::vector<std::uint8_t>(10, 9));
}

TEST_CASE("opening something that is not a shard is a clear error", "[shard_store]") {
  mme::test::TempDir dir;
  mme::test::write_file(dir / "text.h5", "this is not HDF5");
  CHECK_THROWS_WITH(mme::ShardReader(dir / "text.h5"),
                    ContainsSubstring("text.h5") && ContainsSubstring("not an HDF5 file"));
  CHECK_THROWS_WITH(mme::ShardReader(dir / "missing.h5"), ContainsSubstring("no such file"));
}

TEST_CASE("a shard whose creation fails at its first write leaves no 0-byte temporary", "[shard_store]") {
  // In a child limited to files of 0 bytes (RLIMIT_FSIZE: every write fails with EFBIG, as on a disk
  // that filled at the moment the part is created): the file HDF5 created must not stay behind.
  mme::test::TempDir dir;
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::signal(SIGXFSZ, SIG_IGN);
    const rlimit none{0, 0};
    ::setrlimit(RLIMIT_FSIZE, &none);
    try {
      mme::ShardWriter w(dir / "part-00000.h5", test_provenance());
      ::_exit(2);  // created: the limit did not bite
    } catch (const mme::FileError&) {
      ::_exit(0);
    } catch (...) {
      ::_exit(3);
    }
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  CHECK_FALSE(has_temporaries(dir.path()));
  CHECK(fs::is_empty(dir.path()));
}
