// libFuzzer target: the dataset-list parser (`path [label]` lines, VideoMAE's convention).
#include <mme/dataset_list.h>

#include <cstdint>
#include <exception>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::size_t begin = 0;
  while (begin <= text.size()) {
    const auto end = std::min(text.find('\n', begin), text.size());
    try {
      (void)mme::parse_list_line(text.substr(begin, end - begin), "/root");
    } catch (const std::exception&) {
    }
    begin = end + 1;
  }
  return 0;
}
