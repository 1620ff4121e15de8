#pragma once
// One video: its flow fields (read and decoded once, in blocks, in parallel) -> trajectories of
// every start frame, validity, per-cell motion map, MOFO boxes -> a group of a target part.
#include <mme/part_store.h>
#include <mme/progress.h>
#include <mme/shard_store.h>
#include <trajgen/settings.h>

#include <string>

namespace trajgen {

// Processes video `id` of the flow part `flow_part` into `out`. Returns its record (ok, or failed
// with the reason; a failed video leaves no group).
mme::VideoRecord process_video(const std::string& id, const mme::ShardReader& flow_part, const TrajSettings& settings,
                               mme::ShardWriter& out, mme::Progress* progress, std::size_t starts_counter);

}  // namespace trajgen
