#pragma once
// The batch: a dataset list (or one shard of it) into OUTDIR, in parallel, resumable.
#include <flowgen/settings.h>

#include <filesystem>
#include <string>

namespace flowgen {

struct RunOptions {
  std::filesystem::path list, root = ".", out;
  std::string shard = "0/1";
  int threads = 0;       // 0: all cores
  int part_videos = 64;  // videos per published part file
  // Device of the backends that use one (tvl1-gpu): cpu, cuda or cuda:N. Several GPUs: one
  // process per GPU, each with its own --shard.
  std::string device = "cpu";
  FlowSettings settings;
};

// Returns an exit code of mme/cli.h (0, 1, 3 or 130).
int run_flowgen(const RunOptions& options);

}  // namespace flowgen
