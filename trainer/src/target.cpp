#include <trainer/hog_target.h>
#include <trainer/pixel_target.h>
#include <trainer/target.h>
#include <trainer/trajectory_target.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <functional>
#include <map>
#include <stdexcept>

namespace trainer {

namespace {

using Factory = std::function<std::unique_ptr<Target>(const TrainConfig&)>;

// The registry: one line per target.
const std::map<std::string, Factory>& registry() {
  static const std::map<std::string, Factory> r{
      {"pixel", [](const TrainConfig& c) { return std::make_unique<PixelTarget>(c); }},
      {"hog", [](const TrainConfig& c) { return std::make_unique<HogTarget>(c); }},
      {"trajectory", [](const TrainConfig& c) { return std::make_unique<TrajectoryTarget>(c); }},
  };
  return r;
}

}  // namespace

std::vector<std::string> target_names() {
  std::vector<std::string> names;
  for (const auto& [name, factory] : registry()) names.push_back(name);
  return names;
}

std::unique_ptr<Target> make_target(const std::string& name, const TrainConfig& config) {
  const auto it = registry().find(name);
  if (it == registry().end())
    throw std::invalid_argument(
        fmt::format("unknown target '{}' in targets (known: {})", name, fmt::join(target_names(), ", ")));
  return it->second(config);
}

torch::Tensor to_tubes(const torch::Tensor& video, int tubelet, int patch) {
  const auto B = video.size(0), C = video.size(1), T = video.size(2), H = video.size(3), W = video.size(4);
  return video.reshape({B, C, T / tubelet, tubelet, H / patch, patch, W / patch, patch})
      .permute({0, 2, 4, 6, 3, 5, 7, 1})  // B, t, h, w, p0, p1, p2, C
      .reshape({B, (T / tubelet) * (H / patch) * (W / patch), tubelet * patch * patch, C});
}

}  // namespace trainer
