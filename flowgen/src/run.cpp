#include <flowgen/run.h>
#include <flowgen/video_job.h>
#include <mme/batch_runner.h>
#include <mme/cli.h>
#include <mme/error.h>
#include <mme/host_allocator.h>
#include <mme/log.h>
#include <mme/progress.h>
#include <mme/version.h>

#include <fmt/format.h>
#include <tbb/global_control.h>

#include <algorithm>
#include <limits>
#include <opencv2/core.hpp>
#include <set>
#include <thread>

namespace flowgen {
int run_flowgen(const RunOptions& o) {
  try {
    o.settings.validate();
    if (o.device != "cpu" && !flow_backend(o.settings.algo).uses_device)
      throw std::invalid_argument("--device " + o.device + ": --algo " + o.settings.algo +
                                  " runs on the CPU only (tvl1-gpu uses a device)");
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
  provenance_settings[mme::schema::kShardKey.name] = shard.to_string();
  std::unique_ptr<mme::PartStore> store;
  try {
    store = std::make_unique<mme::PartStore>(o.out, shard, mme::Provenance{"flowgen", provenance_settings.dump()},
                                             o.part_videos);
  } catch (const std::exception& e) {
    mme::log::error("{}", e.what());
    return mme::cli::kFatal;
  }
  std::vector<mme::ListEntry> todo;
  std::set<std::string> listed;
  for (const auto& e : entries) {
    listed.insert(e.id);
    if (!store->finished(e.id)) todo.push_back(e);
  }
  // A set grows with every list run into it (a corrected list, a second batch): the videos of
  // earlier lists stay in the manifest and in the set. Said, so that it is never a surprise.
  const auto others = static_cast<std::size_t>(std::count_if(store->records().begin(), store->records().end(),
                                                             [&](const auto& r) { return !listed.count(r.first); }));
  if (others > 0)
    mme::log::info("{} videos of this shard's directory are not in this list: kept (the set is every list run into {})",
                   others, o.out.string());
  mme::log::info("flowgen {}: shard {} holds {} videos, {} already done, {} to do ({} threads)", mme::version(),
                 shard.to_string(), entries.size(), entries.size() - todo.size(), todo.size(),
                 o.threads > 0 ? o.threads : static_cast<int>(std::thread::hardware_concurrency()));

  const int threads = o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, static_cast<std::size_t>(threads));
  // OpenCV's own threads would fight ours (and make timings erratic): our parallelism is per
  // video and per pair, OpenCV runs single-threaded inside each task.
  cv::setNumThreads(1);
  mme::keep_freed_memory();  // every pair allocates a few ~350 KB buffers again

  const BackendInfo& backend = flow_backend(o.settings.algo);
  BackendOptions backend_options;
  backend_options.device = o.device;
  if (backend.uses_device) {
    // The module and the device, checked once before any video (else every video would fail).
    try {
      backend.make(backend_options);
    } catch (const std::exception& e) {
      mme::log::error("--algo {}: {}", backend.name, e.what());
      return mme::cli::kFatal;
    }
  }
  tbb::enumerable_thread_specific<std::unique_ptr<FlowBackend>> backends;
  mme::BatchRunner batch("flowgen", *store, todo.size(), threads);
  JobContext ctx{o.settings,        backend,
                 backends,          batch.stop().flag(),
                 &batch.progress(), batch.progress().add_counter("pairs"),
                 2 * threads + 2,   1,
                 backend_options};
  const auto in_flight = static_cast<int>(std::min<std::size_t>(std::max<std::size_t>(todo.size(), 1), threads));
  ctx.decoder_threads = std::max(1, threads / in_flight);
  // The list's order (videos are not probed for their length before the run).
  std::vector<mme::BatchItem> items;
  for (std::size_t i = 0; i < todo.size(); ++i) items.push_back({todo[i].id, i, 0.0});
  std::vector<std::string> ids;
  for (const auto& e : entries) ids.push_back(e.id);
  const double saturation_px = std::numeric_limits<std::int16_t>::max() * o.settings.quant_step;
  return batch.run(std::move(items), ids, o.out, [&](const mme::BatchItem& item, mme::ShardWriter& part) {
    const auto& entry = todo[item.index];
    mme::VideoRecord record;
    try {
      record = process_video(entry, part, ctx);
    } catch (const mme::Interrupted&) {
      throw;
    } catch (const mme::OutputError&) {
      throw;
    } catch (const std::exception& e) {
      record.id = entry.id;
      record.status = "failed";
      record.reason = e.what();
    }
    // Where the video came from, for the user who must fix the list or the file.
    if (record.status != "ok") record.reason += fmt::format(" ({}, line {})", o.list.string(), entry.line);
    if (record.status == "ok" && record.stats.value("saturated", 0) > 0)
      mme::log::warn("{}: {} flow values saturated at +-{} px", item.id, record.stats["saturated"].get<long>(),
                     saturation_px);
    return record;
  });
}

}  // namespace flowgen
