#include <flowgen/run.h>
#include <flowgen/video_job.h>
#include <mme/batch.h>
#include <mme/cli.h>
#include <mme/error.h>
#include <mme/host_allocator.h>
#include <mme/log.h>
#include <mme/progress.h>
#include <mme/version.h>

#include <tbb/global_control.h>
#include <tbb/parallel_for_each.h>

#include <opencv2/core.hpp>
#include <thread>

namespace flowgen {
int run_flowgen(const RunOptions& o) {
  try {
    o.settings.validate();
  } catch (const std::exception& e) {
    mme::log::error("{}", e.what());
    return mme::cli::kFatal;
  }
  std::vector<mme::ListEntry> entries;
  mme::ShardSpec shard;
  try {
    shard = mme::ShardSpec::parse(o.shard);
    entries = mme::select_shard(mme::read_dataset_list(o.list, o.root), shard);
    claim_output_dir(o.out, o.settings);
  } catch (const std::exception& e) {
    mme::log::error("{}", e.what());
    return mme::cli::kFatal;
  }

  nlohmann::json provenance_settings = o.settings.to_json();
  provenance_settings["shard"] = shard.to_string();
  std::unique_ptr<mme::PartStore> store;
  try {
    store = std::make_unique<mme::PartStore>(o.out, shard, mme::Provenance{"flowgen", provenance_settings.dump()},
                                             o.part_videos);
  } catch (const std::exception& e) {
    mme::log::error("{}", e.what());
    return mme::cli::kFatal;
  }
  std::vector<mme::ListEntry> todo;
  for (const auto& e : entries)
    if (!store->finished(e.id)) todo.push_back(e);
  mme::log::info("flowgen {}: shard {} holds {} videos, {} already done, {} to do ({} threads)", mme::version(),
                 shard.to_string(), entries.size(), entries.size() - todo.size(), todo.size(),
                 o.threads > 0 ? o.threads : static_cast<int>(std::thread::hardware_concurrency()));

  const int threads = o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, static_cast<std::size_t>(threads));
  // OpenCV's own threads would fight ours (and make timings erratic): our parallelism is per
  // video and per pair, OpenCV runs single-threaded inside each task.
  cv::setNumThreads(1);
  mme::keep_freed_memory();  // every pair allocates a few ~350 KB buffers again
  mme::StopRequest stop;

  const BackendInfo& backend = flow_backend(o.settings.algo);
  tbb::enumerable_thread_specific<std::unique_ptr<FlowBackend>> backends;
  int rc = mme::cli::kOk;
  {
    mme::Progress progress("flowgen", static_cast<std::int64_t>(todo.size()), "videos");
    JobContext ctx{o.settings,     backend, backends, stop.flag(), &progress, progress.add_counter("pairs"),
                   2 * threads + 2};
    const auto in_flight = static_cast<int>(std::min<std::size_t>(std::max<std::size_t>(todo.size(), 1), threads));
    ctx.decoder_threads = std::max(1, threads / in_flight);
    try {
      tbb::parallel_for_each(todo.begin(), todo.end(), [&](const mme::ListEntry& entry) {
        if (stop.requested()) return;
        auto part = store->acquire();
        try {
          auto record = process_video(entry, store->writer(part), ctx);
          if (record.status != "ok") {
            mme::log::error("{}", record.reason);
          } else if (record.stats.value("saturated", 0) > 0) {
            mme::log::warn("{}: {} flow values saturated at +-{} px", entry.id, record.stats["saturated"].get<long>(),
                           32767 * o.settings.quant_step);
          }
          store->release(part, std::move(record));
        } catch (const Interrupted&) {
          store->abandon(part);
        }
        progress.advance();
      });
      store->close();
    } catch (const std::exception& e) {
      mme::log::error("{}", e.what());
      rc = mme::cli::kFatal;
    }
  }
  if (rc != mme::cli::kOk) return rc;
  std::vector<std::string> ids;
  for (const auto& e : entries) ids.push_back(e.id);
  return mme::finish_batch(*store, ids, o.out, stop.requested());
}

}  // namespace flowgen
