#include <mme/batch.h>
#include <mme/cli.h>
#include <mme/error.h>
#include <mme/host_allocator.h>
#include <mme/log.h>
#include <mme/part_store.h>
#include <mme/progress.h>
#include <mme/version.h>
#include <trajgen/run.h>
#include <trajgen/video_job.h>

#include <tbb/global_control.h>
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>
#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <opencv2/core.hpp>
#include <thread>

namespace trajgen {
int run_trajgen(const RunOptions& o) {
  nlohmann::json config;
  std::map<std::string, std::string> videos;  // id -> flow part (relative to flow_dir)
  mme::ShardSpec shard;
  try {
    o.settings.validate();
    shard = mme::ShardSpec::parse(o.shard);
    config = o.settings.to_json();
    // The flow set is scanned once: its map names the identity and this shard's videos.
    const auto flow_videos = mme::scan_videos(o.flow_dir);
    config["flow"] = mme::output_identity(o.flow_dir, "flowgen.json", flow_videos);
    mme::claim_output_dir(o.out, "config.json", config);
    for (const auto& [id, file] : flow_videos)
      if (shard.contains(id)) videos.emplace(id, file);
  } catch (const std::exception& e) {
    mme::log::error("{}", e.what());
    return mme::cli::kFatal;
  }
  std::unique_ptr<mme::PartStore> store;
  try {
    store = std::make_unique<mme::PartStore>(o.out, shard, mme::Provenance{"trajgen", config.dump()}, o.part_videos);
  } catch (const std::exception& e) {
    mme::log::error("{}", e.what());
    return mme::cli::kFatal;
  }
  std::vector<std::pair<std::string, std::string>> todo;
  for (const auto& v : videos)
    if (!store->finished(v.first)) todo.push_back(v);
  if (todo.empty() && !videos.empty()) {
    mme::log::info("{}: targets reused: all {} videos of shard {} are there with these settings", o.out.string(),
                   videos.size(), shard.to_string());
    return mme::cli::kOk;
  }
  const int threads = o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  mme::log::info("trajgen {}: shard {} holds {} videos, {} already done, {} to do ({} threads)", mme::version(),
                 shard.to_string(), videos.size(), videos.size() - todo.size(), todo.size(), threads);
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, static_cast<std::size_t>(threads));
  cv::setNumThreads(1);
  mme::keep_freed_memory();  // every flow field allocates ~0.3-1 MB buffers again
  mme::StopRequest stop;

  // Flow parts are opened once and shared by the videos in them.
  std::mutex readers_mutex;
  std::map<std::string, std::shared_ptr<mme::ShardReader>> readers;
  auto reader_for = [&](const std::string& file) {
    std::lock_guard lock(readers_mutex);
    auto& r = readers[file];
    if (!r) r = std::make_shared<mme::ShardReader>(o.flow_dir / file);
    return r;
  };
  // The most work first (flow pairs x pixels), taken one by one from a shared queue: a large video
  // started last would run alone at the end, where its serial HDF5 reads and writes leave the other
  // threads idle. (tbb::parallel_for_each over the sorted list did not keep the order: it splits
  // the list in halves, so a second thread started on the short half's first video and the last
  // large ones ended up one after the other.) A video that cannot be opened sorts last;
  // process_video records why.
  {
    std::map<std::string, double> work;
    for (const auto& [id, file] : todo) {
      try {
        const auto shape = reader_for(file)->video(id).dataset("flow").info().shape;
        work[id] =
            static_cast<double>(shape.at(0)) * static_cast<double>(shape.at(1)) * static_cast<double>(shape.at(2));
      } catch (const std::exception&) {
        work[id] = 0;
      }
    }
    std::stable_sort(todo.begin(), todo.end(),
                     [&](const auto& a, const auto& b) { return work[a.first] > work[b.first]; });
  }
  int rc = mme::cli::kOk;
  {
    mme::Progress progress("trajgen", static_cast<std::int64_t>(todo.size()), "videos");
    const auto starts_counter = progress.add_counter("starts");
    try {
      std::atomic<std::size_t> next{0};
      const auto one_video = [&](const std::pair<std::string, std::string>& v) {
        auto part = store->acquire();
        mme::VideoRecord record;
        try {
          record =
              process_video(v.first, *reader_for(v.second), o.settings, store->writer(part), &progress, starts_counter);
        } catch (const std::exception& e) {  // an unreadable flow part
          record.id = v.first;
          record.status = "failed";
          record.reason = e.what();
        }
        if (record.status != "ok") {
          mme::log::error("{}", record.reason);
        }
        store->release(part, std::move(record));
        progress.advance();
      };
      // One task per thread, each taking the next video until none is left (the videos' own
      // parallel loops are shared out among the threads as before).
      tbb::parallel_for(
          0, threads,
          [&](int) {
            for (std::size_t i; !stop.requested() && (i = next++) < todo.size();) one_video(todo[i]);
          },
          tbb::simple_partitioner());
      store->close();
    } catch (const std::exception& e) {
      mme::log::error("{}", e.what());
      rc = mme::cli::kFatal;
    }
  }
  if (rc != mme::cli::kOk) return rc;
  std::vector<std::string> ids;
  for (const auto& v : videos) ids.push_back(v.first);
  return mme::finish_batch(*store, ids, o.out, stop.requested());
}

}  // namespace trajgen
