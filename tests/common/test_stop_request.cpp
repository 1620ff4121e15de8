// SIGINT/SIGTERM while a batch runs (batch.h): the first asks for a stop, a copy that comes with it
// changes nothing, a second one later ends the process at once with 130, even when it waits in a
// call that never returns.
#include <mme/batch.h>
#include <mme/cli.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <catch2/catch_test_macros.hpp>

#include <chrono>
#include <thread>

namespace {

// A child that installs the stop request, tells the parent, and blocks reading a pipe no one
// writes; returns its pid and the read end of the "ready" pipe's answer.
pid_t blocked_child() {
  int ready[2], never[2];
  REQUIRE(::pipe(ready) == 0);
  REQUIRE(::pipe(never) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    mme::StopRequest stop;
    char c = 1;
    if (::write(ready[1], &c, 1) != 1) ::_exit(2);
    for (;;) {
      if (::read(never[0], &c, 1) >= 0) ::_exit(3);  // blocks (the write end stays open)
      if (stop.requested() && errno != EINTR) ::_exit(4);
    }
  }
  char c = 0;
  REQUIRE(::read(ready[0], &c, 1) == 1);
  return pid;
}

// The child's exit code, or -1 while it still runs after `ms`.
int exit_code_within(pid_t pid, int ms) {
  for (int waited = 0; waited <= ms; waited += 20) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid)
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return -1;
}

}  // namespace

TEST_CASE("a second SIGTERM some seconds after the first ends a blocked process with 130", "[batch][signals]") {
  const pid_t child = blocked_child();
  ::kill(child, SIGTERM);
  ::kill(child, SIGTERM);  // Slurm's and torchrun's copies of one request
  CHECK(exit_code_within(child, 2500) == -1);
  ::kill(child, SIGINT);  // a second request, later
  const int rc = exit_code_within(child, 2000);
  if (rc == -1) ::kill(child, SIGKILL), ::waitpid(child, nullptr, 0);
  CHECK(rc == mme::cli::kInterrupted);
}
