// libFuzzer target: the safetensors reader (Hugging Face directories for finetune.init) on any
// bytes: the header's JSON, dtypes, shapes and byte ranges are checked against the data.
#include <trainer/safetensors.h>

#include <cstdint>
#include <exception>
#include <sstream>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  try {
    (void)trainer::read_safetensors(in, size, "fuzz.safetensors");
  } catch (const std::exception&) {
  }
  return 0;
}
