#pragma once
// The JPEG frames flowgen stores, with libjpeg(-turbo), the project's one JPEG library: flowgen
// encodes them straight from the decoder's YCbCr planes (no RGB round trip), the trainer (the GPU
// machine has no OpenCV) and trajgen viz (without OpenCV's imgcodecs, whose dependencies cost
// ~0.1 s at start) decode them.
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

// A baseline JFIF file from full-range BT.601 YCbCr 4:2:0 planes laid out as VideoReader's
// yuv420p (Y: width x height, then Cb and Cr: (width+1)/2 x (height+1)/2), with libjpeg's
// standard tables scaled to `quality` (1-100), as OpenCV's and PIL's writers make them.
std::vector<std::uint8_t> encode_jpeg_yuv420(const std::uint8_t* planes, int width, int height, int quality);

}  // namespace mme
