#pragma once
// `trainer masks`: one clip seen through every masking strategy, as a PNG. A row per strategy
// (tube, random, and mofo and mgm when the run has target shards), a column per time slice (the
// first frame of each tube); masked tokens are darkened, and the MOFO row shows the motion box.
#include <trainer/config.h>

#include <filesystem>
#include <string>

namespace trainer {

// Draws clip 0 of the first batch (the config's seed decides which video and crop). Returns the
// strategies drawn, in row order. Throws on bad settings or unreadable shards.
std::vector<std::string> write_mask_picture(const TrainConfig& config, const std::filesystem::path& png);

}  // namespace trainer
