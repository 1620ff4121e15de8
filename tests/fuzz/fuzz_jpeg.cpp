// libFuzzer target: the JPEG frame decoder (libjpeg-turbo behind mme::decode_jpeg) on any bytes:
// an error, never a crash or a read outside the buffer.
#include <mme/jpeg.h>

#include <cstdint>
#include <exception>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    (void)mme::decode_jpeg(data, size);
  } catch (const std::exception&) {
  }
  return 0;
}
