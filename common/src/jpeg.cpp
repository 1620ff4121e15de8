#include <mme/checked_size.h>
#include <mme/jpeg.h>

#include <cstdio>  // before jpeglib.h, which uses FILE without including it

#include <jpeglib.h>

#include <algorithm>
#include <csetjmp>
#include <cstring>
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

// libjpeg's output straight into a growing vector (jpeg_mem_dest would malloc and copy).
struct VectorDestination {
  jpeg_destination_mgr pub;
  std::vector<std::uint8_t>* bytes;
};
void vector_init(j_compress_ptr info) {
  auto* d = reinterpret_cast<VectorDestination*>(info->dest);
  d->pub.next_output_byte = d->bytes->data();
  d->pub.free_in_buffer = d->bytes->size();
}
boolean vector_grow(j_compress_ptr info) {
  auto* d = reinterpret_cast<VectorDestination*>(info->dest);
  const std::size_t used = d->bytes->size();
  d->bytes->resize(used * 2);
  d->pub.next_output_byte = d->bytes->data() + used;
  d->pub.free_in_buffer = d->bytes->size() - used;
  return TRUE;
}
void vector_term(j_compress_ptr info) {
  auto* d = reinterpret_cast<VectorDestination*>(info->dest);
  d->bytes->resize(d->bytes->size() - d->pub.free_in_buffer);
}

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
  if (!checked_mul(info.image_width, info.image_height, kMaxPixels)) {
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

std::vector<std::uint8_t> encode_jpeg_yuv420(const std::uint8_t* planes, int width, int height, int quality) {
  if (width <= 0 || height <= 0 || width > 65500 || height > 65500)
    throw std::invalid_argument("encode_jpeg_yuv420: bad size " + std::to_string(width) + "x" + std::to_string(height));
  jpeg_compress_struct info{};
  ErrorManager err{};
  info.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = on_error;
  // Everything with a destructor is made before setjmp.
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(width) * height / 4 + 4096);
  VectorDestination dest{};
  const int cw = (width + 1) / 2, ch = (height + 1) / 2;
  // libjpeg reads raw rows to whole 8x8 blocks (luma: 16-row strips of a width rounded up to 16),
  // beyond the picture's edge: each strip is copied into buffers with the edges repeated.
  const int padded[3] = {(width + 15) / 16 * 16, (cw + 7) / 8 * 8, (cw + 7) / 8 * 8};
  std::vector<std::uint8_t> strip(static_cast<std::size_t>(padded[0]) * 16 + 2 * padded[1] * 8);
  if (setjmp(err.jump)) {
    jpeg_destroy_compress(&info);
    throw std::runtime_error(std::string("JPEG encoder: ") + err.message);
  }
  jpeg_create_compress(&info);
  dest.bytes = &bytes;
  dest.pub.init_destination = vector_init;
  dest.pub.empty_output_buffer = vector_grow;
  dest.pub.term_destination = vector_term;
  info.dest = &dest.pub;
  info.image_width = static_cast<JDIMENSION>(width);
  info.image_height = static_cast<JDIMENSION>(height);
  info.input_components = 3;
  info.in_color_space = JCS_YCbCr;
  jpeg_set_defaults(&info);  // JFIF YCbCr, luma 2x2 and chroma 1x1 sampling: 4:2:0
  jpeg_set_quality(&info, std::clamp(quality, 1, 100), TRUE);
  info.raw_data_in = TRUE;
  info.dct_method = JDCT_ISLOW;
  jpeg_start_compress(&info, TRUE);
  const std::uint8_t* plane[3] = {
      planes, planes + static_cast<std::size_t>(width) * height,
      planes + static_cast<std::size_t>(width) * height + static_cast<std::size_t>(cw) * ch};
  const int plane_w[3] = {width, cw, cw}, plane_h[3] = {height, ch, ch};
  JSAMPROW rows[3][16];
  std::uint8_t* strip_of[3] = {strip.data(), strip.data() + padded[0] * 16,
                               strip.data() + padded[0] * 16 + padded[1] * 8};
  while (info.next_scanline < info.image_height) {
    const int top = static_cast<int>(info.next_scanline);
    for (int c = 0; c < 3; ++c) {
      const int n = c == 0 ? 16 : 8, first = c == 0 ? top : top / 2;
      for (int r = 0; r < n; ++r) {
        const int y = std::min(first + r, plane_h[c] - 1);
        std::uint8_t* row = strip_of[c] + static_cast<std::size_t>(r) * padded[c];
        std::memcpy(row, plane[c] + static_cast<std::size_t>(y) * plane_w[c], plane_w[c]);
        std::memset(row + plane_w[c], row[plane_w[c] - 1], padded[c] - plane_w[c]);
        rows[c][r] = row;
      }
    }
    JSAMPARRAY arrays[3] = {rows[0], rows[1], rows[2]};
    jpeg_write_raw_data(&info, arrays, 16);
  }
  jpeg_finish_compress(&info);
  jpeg_destroy_compress(&info);
  return bytes;
}

}  // namespace mme
