#include <mme/batch_runner.h>
#include <mme/cli.h>
#include <mme/error.h>
#include <mme/log.h>

#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>

#include <algorithm>
#include <atomic>

namespace mme {

BatchRunner::BatchRunner(const std::string& tool, PartStore& store, std::size_t items, int threads)
    : store_(store), threads_(std::max(1, threads)) {
  progress_.emplace(tool, static_cast<std::int64_t>(items), "videos");
}

int BatchRunner::run(std::vector<BatchItem> todo, const std::vector<std::string>& shard_ids,
                     const std::filesystem::path& out, const Process& process) {
  std::stable_sort(todo.begin(), todo.end(), [](const BatchItem& a, const BatchItem& b) { return a.work > b.work; });
  const auto one_video = [&](const BatchItem& item) {
    auto part = store_.acquire();
    VideoRecord record;
    try {
      record = process(item, store_.writer(part));
    } catch (const Interrupted&) {
      store_.abandon(part);
      return;
    } catch (const OutputError&) {  // the output cannot take more: the run stops (run() below)
      throw;
    } catch (const std::exception& e) {  // what the video's own work did not turn into a record
      record = VideoRecord{};
      record.id = item.id;
      record.status = "failed";
      record.reason = e.what();
    }
    if (record.status != "ok") log::error("{}", record.reason);
    store_.release(part, std::move(record));
    progress_->advance();
  };
  int rc = cli::kOk;
  try {
    // One task per thread, each taking the next video until none is left. (parallel_for_each over
    // the sorted list would not keep the order: it splits the list in halves, so a second thread
    // starts on the short half.) The videos' own parallel loops share the same threads.
    std::atomic<std::size_t> next{0};
    tbb::parallel_for(
        0, threads_,
        [&](int) {
          for (std::size_t i; !stop_.requested() && (i = next++) < todo.size();) one_video(todo[i]);
        },
        tbb::simple_partitioner());
    store_.close();
  } catch (const OutputError& e) {
    // A full disk, a quota, an I/O error: every video would fail the same way. One line, the open
    // parts dropped; the published ones stay, and a re-run after the cause is gone resumes.
    store_.discard();
    progress_->abandon();
    log::error("{}", e.what());
    rc = cli::kFatal;
  } catch (const std::exception& e) {
    progress_->abandon();
    log::error("{}", e.what());
    rc = cli::kFatal;
  }
  progress_.reset();  // its last line before the summary
  if (rc != cli::kOk) return rc;
  return finish_batch(store_, shard_ids, out, stop_.requested());
}

}  // namespace mme
