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
#include <tbb/parallel_for_each.h>
#include <algorithm>
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
  // Longest videos first: a long one started last would run alone at the end, where its serial
  // HDF5 reads and writes leave the other threads idle. (A video that cannot be opened sorts
  // last; process_video records why.)
  {
    std::map<std::string, std::uint64_t> pairs;
    for (const auto& [id, file] : todo) {
      try {
        pairs[id] = reader_for(file)->video(id).dataset("flow").info().shape.at(0);
      } catch (const std::exception&) {
        pairs[id] = 0;
      }
    }
    std::stable_sort(todo.begin(), todo.end(),
                     [&](const auto& a, const auto& b) { return pairs[a.first] > pairs[b.first]; });
  }
  int rc = mme::cli::kOk;
  {
    mme::Progress progress("trajgen", static_cast<std::int64_t>(todo.size()), "videos");
    const auto starts_counter = progress.add_counter("starts");
    try {
      tbb::parallel_for_each(todo.begin(), todo.end(), [&](const std::pair<std::string, std::string>& v) {
        if (stop.requested()) return;
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
      });
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
