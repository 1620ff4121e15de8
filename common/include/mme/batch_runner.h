#pragma once
// The batch loop flowgen and trajgen share: this shard's videos to do, taken most work first from
// one queue by `threads` TBB tasks (so no large video runs alone at the end), each written into a
// part of the PartStore. A video that fails, by a returned "failed" record or by an exception,
// is recorded with its reason and the batch goes on, except when the output fails (OutputError: a
// full disk), which stops the batch with one line; a stop request (SIGINT, SIGTERM) lets the
// videos in flight end (or abandon their part with Interrupted) and takes no new one. Ends with
// the shard's totals and the exit code (finish_batch).
#include <mme/batch.h>
#include <mme/part_store.h>
#include <mme/progress.h>

#include <cstddef>
#include <filesystem>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace mme {

// Thrown by a video's work when a stop was requested while it was in progress: its part is
// abandoned (nothing of the video is published) and a re-run does it again.
struct Interrupted : std::runtime_error {
  Interrupted() : std::runtime_error("interrupted") {}
};

struct BatchItem {
  std::string id;
  std::size_t index = 0;  // into the tool's own list
  double work = 0;        // items are taken largest first (equal work: in the given order)
};

class BatchRunner {
 public:
  // Installs the stop request and starts the progress line ("<tool>: i/n videos ...").
  BatchRunner(const std::string& tool, PartStore& store, std::size_t items, int threads);
  BatchRunner(const BatchRunner&) = delete;
  BatchRunner& operator=(const BatchRunner&) = delete;

  Progress& progress() { return *progress_; }
  const StopRequest& stop() const { return stop_; }

  using Process = std::function<VideoRecord(const BatchItem& item, ShardWriter& part)>;
  // Runs `process` over `todo`; `shard_ids` are all the videos of this shard (the summary counts
  // them). Returns the exit code: 0, 3 (some failed), 130 (interrupted) or 1 (the store failed).
  int run(std::vector<BatchItem> todo, const std::vector<std::string>& shard_ids, const std::filesystem::path& out,
          const Process& process);

 private:
  PartStore& store_;
  int threads_;
  StopRequest stop_;
  std::optional<Progress> progress_;
};

}  // namespace mme
