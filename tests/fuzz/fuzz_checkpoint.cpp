// libFuzzer target: the checkpoint importer (trainer/include/trainer/torch_file.h) on any bytes:
// the zip container, the restricted unpickler and the tensor views it builds must refuse damaged
// or hostile files with an error, never crash, read outside the data or run anything.
#include <trainer/torch_file.h>

#include <cstdint>
#include <exception>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    (void)trainer::read_state_dict_bytes(std::string(reinterpret_cast<const char*>(data), size), "fuzz.pth");
  } catch (const std::exception&) {
  }
  return 0;
}
