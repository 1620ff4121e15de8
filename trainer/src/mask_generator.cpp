#include <trainer/mask_generator.h>
#include <trainer/mgm_mask.h>
#include <trainer/mofo_mask.h>
#include <trainer/random_mask.h>
#include <trainer/tube_mask.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <functional>
#include <map>
#include <stdexcept>

namespace trainer {

namespace {

using Factory = std::function<std::unique_ptr<MaskGenerator>(const MaskConfig&)>;

// The registry: one line per strategy.
const std::map<std::string, Factory>& registry() {
  static const std::map<std::string, Factory> r{
      {"tube", [](const MaskConfig& c) { return std::make_unique<TubeMask>(c.ratio); }},
      {"random", [](const MaskConfig& c) { return std::make_unique<RandomMask>(c.ratio); }},
      {"mofo", [](const MaskConfig& c) { return std::make_unique<MofoMask>(c.ratio, c.mofo_inside); }},
      {"mgm", [](const MaskConfig& c) { return std::make_unique<MgmMask>(c.ratio, c.mgm_jitter); }},
  };
  return r;
}

}  // namespace

std::vector<std::string> mask_types() {
  std::vector<std::string> names;
  for (const auto& [name, factory] : registry()) names.push_back(name);
  return names;
}

std::unique_ptr<MaskGenerator> make_mask_generator(const MaskConfig& config) {
  const auto it = registry().find(config.type);
  if (it == registry().end())
    throw std::invalid_argument(
        fmt::format("unknown mask.type '{}' (known: {})", config.type, fmt::join(mask_types(), ", ")));
  return it->second(config);
}

}  // namespace trainer
