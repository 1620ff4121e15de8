#pragma once
// Whether trajgen's output directory was made for this run: its config.json must name the same
// trajectory settings and the same flow set (settings, videos and their files) as data.flow_dir.
// The file may be stale, hand-edited or damaged, so every way it can be wrong is a FileError
// naming it.
#include <trainer/config.h>

#include <filesystem>
#include <map>
#include <string>

namespace trainer {

// Checks TARGETDIR/config.json against the run's settings and the flow set; throws mme::FileError
// naming the file, the setting and both values.
void check_target_set(const std::filesystem::path& target_dir, const std::filesystem::path& flow_dir,
                      const std::map<std::string, std::string>& flow_videos, const TrajectoryConfig& trajectory);

}  // namespace trainer
