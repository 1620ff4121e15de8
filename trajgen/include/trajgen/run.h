#pragma once
#include <trajgen/settings.h>

#include <filesystem>
#include <string>

namespace trajgen {

struct RunOptions {
  std::filesystem::path flow_dir, out;
  std::string shard = "0/1";
  int threads = 0;
  int part_videos = 64;
  TrajSettings settings;
};

// Returns an exit code of mme/cli.h (0, 1, 3 or 130).
int run_trajgen(const RunOptions& options);

}  // namespace trajgen
