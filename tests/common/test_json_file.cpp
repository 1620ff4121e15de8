// JSON text for names that are not UTF-8 (json_file.h): Python's surrogateescape, both ways.
#include <mme/json_file.h>

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <random>

#include "test_support.h"

using Catch::Matchers::ContainsSubstring;

TEST_CASE("utf8_sequence_length accepts exactly the well-formed sequences", "[json]") {
  CHECK(mme::valid_utf8("plain ascii"));
  CHECK(mme::valid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));  // é € 😀
  for (const char* bad : {"\xe9", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82", "\xff"})
    CHECK_FALSE(mme::valid_utf8(bad));
}

TEST_CASE("strings that are not UTF-8 round-trip through JSON text as \\udcXX", "[json]") {
  const nlohmann::json value = {{"id", "caf\xe9.mp4"},
                                {"caf\xe9/key", {"a\\b", std::string("nul\0in", 6), "\xed\xa0\x80", "\\udc80 typed"}},
                                {"fine", "caf\xc3\xa9 \xf0\x9f\x98\x80"}};
  const auto text = mme::dump_json(value);
  CHECK(mme::valid_utf8(text));
  CHECK_THAT(text, ContainsSubstring(R"("caf\udce9.mp4")"));
  CHECK_THAT(text, ContainsSubstring(R"("nul\u0000in")"));
  CHECK(mme::parse_json(text) == value);
  CHECK(mme::parse_json(mme::dump_json(value, 2)) == value);
  // Escaped pairs (an emoji written as two escapes) stay one character.
  CHECK(mme::parse_json(R"("\ud83d\ude00 \udcff")").get<std::string>() == "\xf0\x9f\x98\x80 \xff");

  // Random bytes, every one of 200 strings.
  std::mt19937 rng(5);
  for (int n = 0; n < 200; ++n) {
    std::string s(rng() % 40, '\0');
    for (auto& c : s) c = static_cast<char>(rng());
    const nlohmann::json j = {{s, s}};
    INFO(n);
    REQUIRE(mme::parse_json(mme::dump_json(j)) == j);
  }
}

TEST_CASE("Python's json and os.fsencode give back the exact bytes", "[json][python]") {
  mme::test::TempDir dir;
  mme::test::write_file(dir / "x.json", mme::dump_json({{"videos", {"caf\xe9.mp4", "ok.mp4"}}}));
  const auto r = mme::test::run_capture(
      mme::test::python() +
      " -c \"import json, os, sys; v = json.load(open(sys.argv[1]))['videos']; print([os.fsencode(x) for x in v])\" " +
      (dir / "x.json").string());
  INFO(r.output);
  CHECK(r.rc == 0);
  CHECK_THAT(r.output, ContainsSubstring(R"([b'caf\xe9.mp4', b'ok.mp4'])"));
}
