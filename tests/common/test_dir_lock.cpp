// One live run per output directory (dir_lock.h): a second lock is refused naming the holder, the
// lock goes with its holder however the holder ends, and a name left in the file by a run that is
// gone does not block.
#include <mme/dir_lock.h>
#include <mme/error.h>
#include <mme/part_store.h>
#include <mme/provenance.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <chrono>
#include <thread>

#include "test_support.h"

using Catch::Matchers::ContainsSubstring;
namespace fs = std::filesystem;

namespace {

// A child process that takes the lock on `dir` and waits to be killed; returns once it holds it.
pid_t hold_in_child(const fs::path& dir) {
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(ready[0]);
    try {
      mme::DirectoryLock lock(dir, "child");
      char ok = 1;
      if (::write(ready[1], &ok, 1) != 1) ::_exit(2);
      for (;;) ::pause();
    } catch (...) {
      ::_exit(1);
    }
  }
  ::close(ready[1]);
  char ok = 0;
  REQUIRE(::read(ready[0], &ok, 1) == 1);
  ::close(ready[0]);
  return pid;
}

void kill_and_reap(pid_t pid) {
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
}

}  // namespace

TEST_CASE("a second lock on a directory is refused naming its holder, and free again once released", "[dir_lock]") {
  mme::test::TempDir dir;
  {
    mme::DirectoryLock first(dir.path(), "flowgen");
    try {
      mme::DirectoryLock second(dir.path(), "trajgen");
      FAIL("the second lock was granted");
    } catch (const mme::FileError& e) {
      CHECK(e.file() == dir.path());
      CHECK_THAT(e.what(), ContainsSubstring("in use by flowgen, pid " + std::to_string(::getpid()) + " on " +
                                             mme::host_name() + ", since 20"));
    }
  }
  CHECK_NOTHROW(mme::DirectoryLock(dir.path(), "trajgen"));
  // The file stays, emptied: removing it would race with a run opening it.
  CHECK(fs::exists(dir / mme::DirectoryLock::kFileName));
  CHECK(fs::file_size(dir / mme::DirectoryLock::kFileName) == 0);
}

TEST_CASE("a lock held by another process is refused; killed, its holder leaves it free", "[dir_lock]") {
  mme::test::TempDir dir;
  const pid_t child = hold_in_child(dir.path());
  try {
    mme::DirectoryLock lock(dir.path(), "flowgen");
    kill_and_reap(child);
    FAIL("granted while another process holds it");
  } catch (const mme::FileError& e) {
    CHECK_THAT(e.what(), ContainsSubstring("in use by child, pid " + std::to_string(child)));
  }
  kill_and_reap(child);  // SIGKILL: no destructor runs, its name stays in the file
  CHECK(fs::file_size(dir / mme::DirectoryLock::kFileName) > 0);
  CHECK_NOTHROW(mme::DirectoryLock(dir.path(), "flowgen"));
}

TEST_CASE("two part stores on one shard: the second stops before it writes anything", "[dir_lock]") {
  mme::test::TempDir out;
  const auto shard = mme::ShardSpec::parse("0/1");
  mme::PartStore first(out.path(), shard, {"flowgen", "{}"}, 2);
  auto part = first.acquire();
  const auto before = mme::test::run_capture("ls -a " + (out.path() / shard.stem()).string()).output;
  try {
    mme::PartStore second(out.path(), shard, {"flowgen", "{}"}, 2);
    FAIL("a second store was opened on a shard in use");
  } catch (const mme::FileError& e) {
    CHECK_THAT(e.what(), ContainsSubstring(shard.stem()));
    CHECK_THAT(e.what(), ContainsSubstring("in use by flowgen"));
  }
  CHECK(mme::test::run_capture("ls -a " + (out.path() / shard.stem()).string()).output == before);
  // Another shard of the same directory (another task of the array) is free.
  CHECK_NOTHROW(mme::PartStore(out.path(), mme::ShardSpec::parse("1/2"), {"flowgen", "{}"}, 2));
  first.abandon(part);
}
