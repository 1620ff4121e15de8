#pragma once
// A minimal PNG writer (8-bit RGB, zlib), for the trainer's and trajgen viz's pictures: the
// trainer has no OpenCV, and trajgen does without OpenCV's imgcodecs (see jpeg.h).
#include <cstdint>
#include <filesystem>
#include <vector>

namespace mme {

// Throws mme::FileError when the file cannot be written.
void write_png(const std::filesystem::path& file, int width, int height, const std::vector<std::uint8_t>& rgb);

}  // namespace mme
