// libFuzzer target: the LOCO-I range and Rice decoders, and the checked codec (CRC-32C first), on
// any bytes. Input: coder (1 byte), rows and cols (2 bytes each, little-endian, at most 256),
// channels (1 byte), then a stored chunk of format 3 (CRC-32C, then the coded values): the codec
// gets the whole chunk, the bare decoders what follows the CRC. They must bound every read by the
// chunk's size (ASan) and report garbage, not crash. scripts/fuzz.sh seeds it with real chunks.
#include <mme/loco_filter.h>
#include <mme/loco_rice.h>
#include <mme/loco_transform.h>

#include <cstdint>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  constexpr std::size_t kHeader = 6, kCrc = 4;
  if (size < kHeader) return 0;
  const bool rice = data[0] & 1;
  const unsigned rows = 1 + (data[1] | data[2] << 8) % 256, cols = 1 + (data[3] | data[4] << 8) % 256;
  const mme::loco::Geometry g{rows, cols, 1u + data[5] % 4};
  data += kHeader;
  size -= kHeader;
  std::vector<std::int16_t> out(g.values());
  if (size >= kCrc) {
    if (rice)
      (void)mme::loco::rice_decode(data + kCrc, size - kCrc, g, out.data());
    else
      (void)mme::loco::decode(data + kCrc, size - kCrc, g, out.data());
  }
  const auto codec =
      mme::loco_codec({1, g.rows, g.cols, g.channels}, 1, rice ? mme::LocoCoder::rice : mme::LocoCoder::range);
  try {
    (void)codec->decode(data, size, 2, g.values() * 2, 0);
  } catch (const std::exception&) {
  }
  return 0;
}
