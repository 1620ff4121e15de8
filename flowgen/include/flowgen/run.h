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
  FlowSettings settings;
};

// Returns an exit code of mme/cli.h (0, 1, 3 or 130).
int run_flowgen(const RunOptions& options);

}  // namespace flowgen
