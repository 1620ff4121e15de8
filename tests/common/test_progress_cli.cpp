#include <mme/cli.h>
#include <mme/progress.h>

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

using Catch::Matchers::ContainsSubstring;

TEST_CASE("durations read like a person would write them", "[progress]") {
  CHECK(mme::format_duration(0) == "0s");
  CHECK(mme::format_duration(12.4) == "12s");
  CHECK(mme::format_duration(65) == "1m05s");
  CHECK(mme::format_duration(3725) == "1h02m");
  CHECK(mme::format_duration(-1) == "?");
}

TEST_CASE("the progress line shows done/total, rates and an ETA", "[progress]") {
  mme::Progress::set_terminal(false);
  mme::Progress::set_plain_interval(1e9);  // no periodic lines in the test output
  mme::Progress p("flowgen", 10, "videos");
  const auto pairs = p.add_counter("pairs");
  CHECK_THAT(p.line(), ContainsSubstring("0/10 videos"));
  p.advance(4);
  p.advance_counter(pairs, 400);
  const auto line = p.line();
  CHECK_THAT(line, ContainsSubstring("4/10 videos"));
  CHECK_THAT(line, ContainsSubstring("videos/s"));
  CHECK_THAT(line, ContainsSubstring("pairs/s"));
  CHECK_THAT(line, ContainsSubstring("ETA"));
  p.advance(6);
  CHECK_THAT(p.line(), ContainsSubstring("took"));
}

TEST_CASE("the shared CLI convention: help with examples and exit codes, usage errors exit 2", "[cli]") {
  CLI::App app{"test tool", "tool"};
  std::string list;
  app.add_option("--list", list, "a list")->required();
  mme::cli::setup(app, {{"tool --list x.txt", "do the thing"}});
  CHECK_THAT(app.help(), ContainsSubstring("Examples:") && ContainsSubstring("tool --list x.txt") &&
                             ContainsSubstring("Exit codes:") &&
                             ContainsSubstring("3    finished, but some items failed"));
  {
    const char* argv[] = {"tool", "--list"};
    CHECK(mme::cli::parse(app, 2, const_cast<char**>(argv)) == mme::cli::kUsage);
  }
  {
    CLI::App ok_app{"test tool", "tool"};
    ok_app.add_option("--list", list, "a list")->required();
    mme::cli::setup(ok_app, {});
    const char* argv[] = {"tool", "--list", "x.txt"};
    CHECK(mme::cli::parse(ok_app, 3, const_cast<char**>(argv)) == -1);
    CHECK(list == "x.txt");
  }
}
