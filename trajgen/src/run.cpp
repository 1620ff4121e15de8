#include <mme/batch_runner.h>
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
    config[mme::schema::target_settings::flow.name] =
        mme::output_identity(o.flow_dir, mme::schema::kFlowSettingsFile, flow_videos);
    mme::claim_output_dir(o.out, mme::schema::kTargetSettingsFile, config);
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

  // Flow parts are opened once and shared by the videos in them.
  std::mutex readers_mutex;
  std::map<std::string, std::shared_ptr<mme::ShardReader>> readers;
  auto reader_for = [&](const std::string& file) {
    std::lock_guard lock(readers_mutex);
    auto& r = readers[file];
    if (!r) r = std::make_shared<mme::ShardReader>(o.flow_dir / file);
    return r;
  };
  // The most work first (flow pairs x pixels): a large video started last would run alone at the
  // end, where its serial HDF5 reads and writes leave the other threads idle. A video that cannot
  // be opened sorts last; process_video records why.
  std::vector<mme::BatchItem> items;
  for (std::size_t i = 0; i < todo.size(); ++i) {
    const auto& [id, file] = todo[i];
    double work = 0;
    try {
      const auto shape = reader_for(file)->video(id).dataset(mme::schema::flow::flow).info().shape;
      work = static_cast<double>(shape.at(0)) * static_cast<double>(shape.at(1)) * static_cast<double>(shape.at(2));
    } catch (const std::exception&) {
      work = 0;
    }
    items.push_back({id, i, work});
  }
  mme::BatchRunner batch("trajgen", *store, todo.size(), threads);
  const auto starts_counter = batch.progress().add_counter("starts");
  std::vector<std::string> ids;
  for (const auto& v : videos) ids.push_back(v.first);
  return batch.run(std::move(items), ids, o.out, [&](const mme::BatchItem& item, mme::ShardWriter& part) {
    const auto& file = todo[item.index].second;
    return process_video(item.id, *reader_for(file), o.settings, part, &batch.progress(), starts_counter);
  });
}

}  // namespace trajgen
