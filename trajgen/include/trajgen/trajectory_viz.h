#pragma once
// Pictures of targets: the trajectories that start at one frame drawn over that frame (colour =
// direction of the whole track, grey = left the frame), with the frame's MOFO box (solid) and the
// video's union box (thin), so a person can check the targets at a glance.
#include <filesystem>
#include <string>

namespace trajgen {

// Reads video `id` from the target part and its frames from the flow part, draws start frame
// `start` (-1: the middle one), magnified `zoom` times, and writes the PNG. Throws FileError.
void write_trajectory_picture(const std::filesystem::path& target_part, const std::filesystem::path& flow_part,
                              const std::string& id, int start, int zoom, const std::filesystem::path& png);

}  // namespace trajgen
