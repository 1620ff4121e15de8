#include <mme/batch.h>
#include <mme/cli.h>
#include <mme/log.h>

#include <unistd.h>

#include <csignal>
#include <ctime>

namespace mme {
namespace {
std::atomic<bool> g_stop{false};
// The first SIGINT/SIGTERM asks the run to stop after the work in flight (its parts are kept); a
// second one, a few seconds later, ends the process at once in whatever call it waits (a hung file
// system, a stuck device): exit 130, the open part lost, the published ones intact. Copies of
// the first signal that come together (Slurm signals every process of a step, and torchrun
// forwards the same signal to its workers) are not a second request.
std::atomic<long> g_first_signal_ms{0};
long monotonic_ms() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);  // async-signal-safe
  return static_cast<long>(now.tv_sec) * 1000 + now.tv_nsec / 1000000;
}
extern "C" void on_stop_signal(int) {
  constexpr long kSameSignalMs = 2000;
  if (!g_stop.exchange(true)) {
    g_first_signal_ms.store(monotonic_ms());
  } else if (monotonic_ms() - g_first_signal_ms.load() > kSameSignalMs) {
    constexpr char kMessage[] = "\nstopped at once by a second signal (the open part is lost)\n";
    [[maybe_unused]] const auto n = ::write(STDERR_FILENO, kMessage, sizeof kMessage - 1);
    ::_exit(cli::kInterrupted);
  }
}
void (*g_old_int)(int) = SIG_DFL;
void (*g_old_term)(int) = SIG_DFL;
}  // namespace

StopRequest::StopRequest() {
  g_stop.store(false);
  g_old_int = std::signal(SIGINT, on_stop_signal);
  g_old_term = std::signal(SIGTERM, on_stop_signal);
}

StopRequest::~StopRequest() {
  std::signal(SIGINT, g_old_int);
  std::signal(SIGTERM, g_old_term);
}

bool StopRequest::requested() const {
  return g_stop.load();
}
const std::atomic<bool>& StopRequest::flag() const {
  return g_stop;
}

int finish_batch(const PartStore& store, const std::vector<std::string>& ids, const std::filesystem::path& out,
                 bool interrupted) {
  std::size_t ok = 0, bad = 0;
  for (const auto& id : ids) {
    auto it = store.records().find(id);
    if (it != store.records().end()) (it->second.status == "ok" ? ok : bad)++;
  }
  log::info("{}: {} of {} videos done, {} failed (manifest: {})", out.string(), ok, ids.size(), bad,
            (store.shard_dir() / schema::kManifestFile).string());
  if (interrupted) {
    log::warn("interrupted: finished videos are kept; run the same command again to resume");
    return cli::kInterrupted;
  }
  return bad > 0 ? cli::kSomeFailed : cli::kOk;
}

}  // namespace mme
