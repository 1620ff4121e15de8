#include <mme/jpeg.h>

#include <cstdio>  // before jpeglib.h, which uses FILE without including it

#include <jpeglib.h>

#include <csetjmp>
#include <stdexcept>
#include <string>

namespace mme {

namespace {

// libjpeg reports errors through a callback that must not return: jump back and throw from C++.
struct ErrorManager {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void on_error(j_common_ptr info) {
  auto* err = reinterpret_cast<ErrorManager*>(info->err);
  (*info->err->format_message)(info, err->message);
  std::longjmp(err->jump, 1);
}

void on_warning(j_common_ptr, int) {}  // corrupt-data warnings: the decoded image is still usable

}  // namespace

RgbImage decode_jpeg(const std::uint8_t* data, std::size_t size) {
  jpeg_decompress_struct info{};
  ErrorManager err{};
  info.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = on_error;
  err.pub.emit_message = on_warning;
  RgbImage image;  // declared before setjmp: nothing with a destructor is created between the two
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&info);
    throw std::runtime_error(std::string("JPEG frame: ") + err.message);
  }
  jpeg_create_decompress(&info);
  jpeg_mem_src(&info, data, static_cast<unsigned long>(size));
  jpeg_read_header(&info, TRUE);
  // A header may claim any size up to 65535 x 65535 (a 186-byte file found by fuzzing asked for
  // 12 GB): frames here are far smaller, so such a file is refused before anything is allocated.
  constexpr std::uint64_t kMaxPixels = std::uint64_t{1} << 26;  // 8192 x 8192
  if (static_cast<std::uint64_t>(info.image_width) * info.image_height > kMaxPixels) {
    const auto w = info.image_width, h = info.image_height;
    jpeg_destroy_decompress(&info);
    throw std::runtime_error("JPEG frame: its header claims " + std::to_string(w) + "x" + std::to_string(h) +
                             " pixels, more than a frame can have");
  }
  info.out_color_space = JCS_RGB;
  info.dct_method = JDCT_ISLOW;  // exact and the same everywhere (bit-exact resume across machines)
  jpeg_start_decompress(&info);
  image.width = static_cast<int>(info.output_width);
  image.height = static_cast<int>(info.output_height);
  image.pixels.resize(static_cast<std::size_t>(image.width) * image.height * 3);
  while (info.output_scanline < info.output_height) {
    JSAMPROW row = image.pixels.data() + static_cast<std::size_t>(info.output_scanline) * image.width * 3;
    jpeg_read_scanlines(&info, &row, 1);
  }
  jpeg_finish_decompress(&info);
  jpeg_destroy_decompress(&info);
  return image;
}

}  // namespace mme
