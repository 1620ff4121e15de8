#include <mme/dataset_list.h>
#include <mme/error.h>

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <algorithm>
#include <random>
#include <set>

#include "test_support.h"

using Catch::Matchers::ContainsSubstring;
using mme::parse_list_line;

TEST_CASE("list lines follow the VideoMAE convention", "[list]") {
  const std::filesystem::path root = "/data/k400";
  SECTION("path and label separated by a space") {
    auto e = parse_list_line("abseiling/x1.mp4 3", root);
    REQUIRE(e);
    CHECK(e->id == "abseiling/x1.mp4");
    CHECK(e->path == "/data/k400/abseiling/x1.mp4");
    CHECK(e->label == 3);
  }
  SECTION("comma separated, spaces in the path") {
    auto e = parse_list_line("some dir/clip 1.webm, 17", root);
    REQUIRE(e);
    CHECK(e->id == "some dir/clip 1.webm");
    CHECK(e->label == 17);
  }
  SECTION("space separated, spaces in the path: the last integer field is the label") {
    auto e = parse_list_line("some dir/clip 1.webm 5", root);
    REQUIRE(e);
    CHECK(e->id == "some dir/clip 1.webm");
    CHECK(e->label == 5);
  }
  SECTION("no label") {
    auto e = parse_list_line("  video.avi\t", root);
    REQUIRE(e);
    CHECK(e->id == "video.avi");
    CHECK_FALSE(e->label);
  }
  SECTION("a last field that is not an integer belongs to the path") {
    auto e = parse_list_line("my video.mp4", root);
    REQUIRE(e);
    CHECK(e->id == "my video.mp4");
    CHECK_FALSE(e->label);
  }
  SECTION("comments and blank lines") {
    CHECK_FALSE(parse_list_line("# a comment", root));
    CHECK_FALSE(parse_list_line("   ", root));
    CHECK_FALSE(parse_list_line("", root));
    auto e = parse_list_line("a.mp4 2   # trailing comment", root);
    REQUIRE(e);
    CHECK(e->id == "a.mp4");
    CHECK(e->label == 2);
  }
  SECTION("a '#' inside a name is not a comment") {
    auto e = parse_list_line("take#3.mp4 1", root);
    REQUIRE(e);
    CHECK(e->id == "take#3.mp4");
  }
  SECTION("absolute paths are kept, Windows line ends are tolerated") {
    auto e = parse_list_line("/abs/v.mp4 0\r", root);
    REQUIRE(e);
    CHECK(e->path == "/abs/v.mp4");
    CHECK(e->label == 0);
  }
  SECTION("negative labels are integers too") {
    auto e = parse_list_line("v.mp4 -1", root);
    REQUIRE(e);
    CHECK(e->label == -1);
  }
  SECTION("malformed lines are refused with the reason") {
    CHECK_THROWS_WITH(parse_list_line(", 3", root), ContainsSubstring("empty path"));
    CHECK_THROWS_WITH(parse_list_line("a.mp4, x", root), ContainsSubstring("not an integer"));
    CHECK_THROWS_WITH(parse_list_line("a.mp4,1,2", root), ContainsSubstring("more than two fields"));
  }
}

TEST_CASE("reading a list names the file and line of a problem", "[list]") {
  mme::test::TempDir dir;
  const auto list = dir / "train.txt";
  mme::test::write_file(list, "# header\nvids/a.mp4 0\n\nvids/b.mp4 1\nvids/c.mp4\n");
  auto entries = mme::read_dataset_list(list, dir.path());
  REQUIRE(entries.size() == 3);
  CHECK(entries[0].line == 2);
  CHECK(entries[1].line == 4);
  CHECK(entries[2].path == dir.path() / "vids/c.mp4");

  mme::test::write_file(list, "a.mp4 0\nb.mp4 1\na.mp4 2\n");
  CHECK_THROWS_WITH(mme::read_dataset_list(list, dir.path()),
                    ContainsSubstring("train.txt") && ContainsSubstring("line 3") && ContainsSubstring("line 1"));
  mme::test::write_file(list, "a.mp4 0\nb.mp4, nope\n");
  CHECK_THROWS_WITH(mme::read_dataset_list(list, dir.path()), ContainsSubstring("line 2"));
  CHECK_THROWS_AS(mme::read_dataset_list(dir / "missing.txt", dir.path()), mme::FileError);
}

TEST_CASE("the real sample list parses", "[list][samples]") {
  const auto dir = mme::test::samples_dir();
  auto entries = mme::read_dataset_list(dir / "list.txt", dir);
  CHECK(entries.size() >= 10);
  for (const auto& e : entries) {
    CHECK(std::filesystem::exists(e.path));
    CHECK(e.label);
  }
}

TEST_CASE("shard specs parse and refuse bad values", "[shard]") {
  auto s = mme::ShardSpec::parse("3/16");
  CHECK(s.index == 3);
  CHECK(s.count == 16);
  CHECK(s.to_string() == "3/16");
  CHECK(s.stem() == "shard-00003-of-00016");
  CHECK_THROWS_WITH(mme::ShardSpec::parse("16/16"), ContainsSubstring("0..15"));
  CHECK_THROWS(mme::ShardSpec::parse("-1/4"));
  CHECK_THROWS(mme::ShardSpec::parse("1"));
  CHECK_THROWS(mme::ShardSpec::parse("a/b"));
  CHECK_THROWS(mme::ShardSpec::parse("0/0"));
}

TEST_CASE("every video falls into exactly one of N shards, stably", "[shard]") {
  std::vector<mme::ListEntry> entries;
  for (int i = 0; i < 2000; ++i) {
    mme::ListEntry e;
    e.id = "class_" + std::to_string(i % 37) + "/video_" + std::to_string(i) + ".mp4";
    entries.push_back(e);
  }
  for (int n : {1, 2, 3, 7, 16, 64}) {
    std::vector<int> owner(entries.size(), -1);
    std::vector<std::size_t> sizes(n, 0);
    for (int i = 0; i < n; ++i) {
      const mme::ShardSpec spec{i, n};
      for (std::size_t k = 0; k < entries.size(); ++k) {
        if (!spec.contains(entries[k].id)) continue;
        CHECK(owner[k] == -1);  // in no other shard
        owner[k] = i;
        ++sizes[i];
      }
    }
    CHECK(std::count(owner.begin(), owner.end(), -1) == 0);
    // Hash shards are balanced to within a few standard deviations of a binomial draw.
    const double mean = static_cast<double>(entries.size()) / n;
    for (auto sz : sizes) CHECK(std::abs(static_cast<double>(sz) - mean) < 5 * std::sqrt(mean) + 1);
  }
  // Membership depends on the id only: reordering the list changes nothing.
  const mme::ShardSpec spec{2, 7};
  auto shuffled = entries;
  std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937(42));
  std::set<std::string> a, b;
  for (const auto& e : mme::select_shard(entries, spec)) a.insert(e.id);
  for (const auto& e : mme::select_shard(shuffled, spec)) b.insert(e.id);
  CHECK(a == b);
}

TEST_CASE("FNV-1a matches its published test vectors", "[shard]") {
  CHECK(mme::fnv1a64("") == 0xcbf29ce484222325ull);
  CHECK(mme::fnv1a64("a") == 0xaf63dc4c8601ec8cull);
  CHECK(mme::fnv1a64("foobar") == 0x85944171f73967e8ull);
}
