#include <mme/atomic_file.h>
#include <mme/batch_runner.h>
#include <mme/cli.h>
#include <mme/error.h>
#include <mme/host_allocator.h>
#include <mme/json_file.h>
#include <mme/log.h>
#include <mme/part_store.h>
#include <mme/progress.h>
#include <mme/version.h>
#include <trajgen/run.h>
#include <trajgen/video_job.h>

#include <fmt/format.h>
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
  std::map<std::string, std::string> lost;    // id -> why: its flow part is gone or unreadable
  mme::ShardSpec shard;
  const std::string flow_key = mme::schema::target_settings::flow.name;
  try {
    o.settings.validate();
    shard = mme::ShardSpec::parse(o.shard);
    config = o.settings.to_json();
    // The flow set is scanned once: its map names the identity and this shard's videos. A part
    // that is gone or damaged costs its own videos only (each recorded as failed, exit 3).
    const auto flow = mme::scan_set(o.flow_dir);
    for (const auto& problem : flow.problems) mme::log::warn("{}", problem);
    config[flow_key] = mme::output_identity(o.flow_dir, mme::schema::kFlowSettingsFile, flow.videos);
    // The flow set may have grown or been repaired since these targets were begun: its settings
    // must be the same, its videos are what this run brings the targets up to (and records).
    mme::claim_output_dir(o.out, mme::schema::kTargetSettingsFile, config,
                          {"/" + flow_key + "/videos", "/" + flow_key + "/hash"});
    for (const auto& [id, file] : flow.videos)
      if (shard.contains(id)) videos.emplace(id, file);
    for (const auto& [id, why] : flow.lost)
      if (shard.contains(id)) lost.emplace(id, why);
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
  // Targets are brought up to this flow set: its identity is recorded once the run has been over
  // every video (the trainer checks it against the flow set it reads).
  const auto record_flow_set = [&] {
    try {
      mme::write_atomically(o.out / mme::schema::kTargetSettingsFile, mme::dump_json(config, 2) + "\n");
      return true;
    } catch (const mme::OutputError& e) {
      mme::log::error("{}", e.what());
      return false;
    }
  };
  std::vector<std::pair<std::string, std::string>> todo;
  for (const auto& v : videos)
    if (!store->finished(v.first)) todo.push_back(v);
  for (const auto& [id, why] : lost)
    if (!store->finished(id)) todo.emplace_back(id, std::string());
  if (todo.empty() && !videos.empty()) {
    if (!record_flow_set()) return mme::cli::kFatal;
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
    if (file.empty()) {  // lost: recorded as failed at once
      items.push_back({id, i, 0.0});
      continue;
    }
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
  for (const auto& v : lost) ids.push_back(v.first);
  const int rc = batch.run(std::move(items), ids, o.out, [&](const mme::BatchItem& item, mme::ShardWriter& part) {
    const auto& file = todo[item.index].second;
    if (file.empty()) {
      mme::VideoRecord failed;
      failed.id = item.id;
      failed.status = "failed";
      failed.reason = fmt::format("{}: its flow part {}", item.id, lost.at(item.id));
      return failed;
    }
    return process_video(item.id, *reader_for(file), o.settings, part, &batch.progress(), starts_counter);
  });
  if ((rc == mme::cli::kOk || rc == mme::cli::kSomeFailed) && !record_flow_set()) return mme::cli::kFatal;
  return rc;
}

}  // namespace trajgen
