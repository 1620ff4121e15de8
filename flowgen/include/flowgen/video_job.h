#pragma once
// One video, from file to its group in a part: decode -> (JPEG frames, flow of each consecutive
// pair, codec motion) -> compressed chunks -> direct chunk writes. A TBB pipeline: decoding
// (serial, in order) overlaps the parallel per-pair work, and writing is serial in order, so the
// stored bytes do not depend on the number of threads.
#include <flowgen/flow_backend.h>
#include <flowgen/settings.h>
#include <mme/batch_runner.h>
#include <mme/dataset_list.h>
#include <mme/part_store.h>
#include <mme/progress.h>
#include <mme/shard_store.h>

#include <tbb/enumerable_thread_specific.h>

#include <atomic>
#include <memory>
#include <stdexcept>

namespace flowgen {

struct JobContext {
  const FlowSettings& settings;
  const BackendInfo& backend;
  // One backend instance per worker thread (instances are not thread-safe).
  tbb::enumerable_thread_specific<std::unique_ptr<FlowBackend>>& backends;
  const std::atomic<bool>& stop;
  mme::Progress* progress = nullptr;  // optional
  std::size_t pairs_counter = 0;
  int max_tokens = 8;  // frames in flight within one video
  // FFmpeg decoder threads per video: 1 while there are more videos than cores (videos already
  // run in parallel), more when a few long videos would leave decoding serial.
  int decoder_threads = 1;
  BackendOptions backend_options;  // the device of a GPU backend
};

// Processes one video into `shard`. Returns its record (status ok or failed with the reason; a
// failed video leaves no group). Throws mme::Interrupted.
mme::VideoRecord process_video(const mme::ListEntry& entry, mme::ShardWriter& shard, JobContext& context);

}  // namespace flowgen
