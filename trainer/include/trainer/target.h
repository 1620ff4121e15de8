#pragma once
// What the decoder predicts for each masked token. One target per file (pixel_target.cpp,
// hog_target.cpp, trajectory_target.cpp), chosen by name with a weight in `targets`; adding one is
// its file and a line in target.cpp's registry (settings, help and tests read the registry). Targets are computed on
// the training device from the batch, every step (no target is stored besides trajectories, which need the flow).
#include <trainer/clip_needs.h>
#include <trainer/config.h>

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

namespace trainer {

// The batch on the device, as targets see it.
struct TargetInput {
  torch::Tensor frames;      // float [B, 3, T, S, S], RGB in [0, 1] (before mean/std normalisation)
  torch::Tensor trajectory;  // float [B, slices, g, g, L, 2] input pixels (g = S / cell), if loaded
  torch::Tensor valid;       // uint8 [B, slices, g, g], if loaded
};

class Target {
 public:
  virtual ~Target() = default;
  virtual std::string name() const = 0;
  // Values per token.
  virtual int channels() const = 0;
  // Target values of every token [B, tokens, channels] (tokens ordered slice, row, col).
  virtual torch::Tensor compute(const TargetInput& input) const = 0;
  // Which tokens' losses count [B, tokens] (1/0); undefined: all of them.
  virtual torch::Tensor weight(const TargetInput&) const { return {}; }
  // The stored data it reads (the loader provides them in the batch).
  virtual ClipNeeds needs() const { return {}; }
};

// Throws std::invalid_argument naming the unknown target and the known ones.
std::unique_ptr<Target> make_target(const std::string& name, const TrainConfig& config);
std::vector<std::string> target_names();

// [B, C, T, H, W] -> [B, tokens, tubelet * patch * patch, C]: the pixels of each tube, in VideoMAE's
// order (slice, row, col), values inside a tube ordered (frame, y, x).
torch::Tensor to_tubes(const torch::Tensor& video, int tubelet, int patch);

}  // namespace trainer
