#pragma once
// Decodes the JPEG frames flowgen stores, with libjpeg: the trainer (the GPU machine has no
// OpenCV) and trajgen viz (without OpenCV's imgcodecs, whose dependencies cost ~0.1 s at start).
#include <cstddef>
#include <cstdint>
#include <vector>

namespace mme {

struct RgbImage {
  int width = 0, height = 0;
  std::vector<std::uint8_t> pixels;  // row-major RGB, height x width x 3
};

// Throws std::runtime_error with libjpeg's message when the bytes are not a decodable JPEG.
RgbImage decode_jpeg(const std::uint8_t* data, std::size_t size);

}  // namespace mme
