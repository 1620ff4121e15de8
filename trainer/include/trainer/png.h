#pragma once
// A minimal PNG writer (8-bit RGB, zlib), for the trainer's pictures: the trainer has no OpenCV.
#include <cstdint>
#include <filesystem>
#include <vector>

namespace trainer {

// Throws mme::FileError when the file cannot be written.
void write_png(const std::filesystem::path& file, int width, int height, const std::vector<std::uint8_t>& rgb);

}  // namespace trainer
