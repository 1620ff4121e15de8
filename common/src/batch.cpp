#include <mme/batch.h>
#include <mme/cli.h>
#include <mme/log.h>

#include <csignal>

namespace mme {
namespace {
std::atomic<bool> g_stop{false};
extern "C" void on_stop_signal(int) {
  g_stop.store(true);
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
