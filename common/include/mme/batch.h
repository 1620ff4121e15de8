#pragma once
// What every batch tool (flowgen, trajgen) does around its parallel loop: turn SIGINT/SIGTERM into
// a stop request that the loop polls, and end with the shard's totals and an exit code.
#include <mme/part_store.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <vector>

namespace mme {

// While alive, SIGINT and SIGTERM set the flag instead of killing the process (the previous
// handlers come back on destruction). One at a time per process.
class StopRequest {
 public:
  StopRequest();
  ~StopRequest();
  StopRequest(const StopRequest&) = delete;
  StopRequest& operator=(const StopRequest&) = delete;
  bool requested() const;
  const std::atomic<bool>& flag() const;
};

// Logs "<out>: N of M videos done, K failed (manifest: ...)" for the ids of this shard and returns
// the exit code: 130 when interrupted, 3 when some failed, else 0.
int finish_batch(const PartStore& store, const std::vector<std::string>& ids, const std::filesystem::path& out,
                 bool interrupted);

}  // namespace mme
