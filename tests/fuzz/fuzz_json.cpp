// libFuzzer target: the JSON the tools read back from files: a trainer run's config.json (and
// --config files), and the manifests' video records.
#include <mme/part_store.h>
#include <trainer/config.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <exception>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(data, data + size);
  } catch (const std::exception&) {
    return 0;
  }
  try {
    trainer::TrainConfig::from_json(j).validate();
  } catch (const std::exception&) {
  }
  try {
    (void)mme::VideoRecord::from_json(j);
  } catch (const std::exception&) {
  }
  return 0;
}
