#pragma once
// A run's checkpoint (RUNDIR/checkpoint.pt, LibTorch's archive format): model weights and buffers,
// the optimiser's moments, the step (which fixes the schedule and the data position, see
// clip_loader.h), the CPU random generator and the run's identity. Written under a temporary name,
// fsynced and renamed: a file named checkpoint.pt is always whole, and a crash while writing keeps
// the previous one.
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>

namespace trainer {

struct CheckpointState {
  long step = 0;
  std::string identity;  // the run's settings as JSON (trainer::identity)
};

void save_checkpoint(const std::filesystem::path& path, torch::nn::Module& model, torch::optim::Optimizer& optimizer,
                     const CheckpointState& state);

// Loads into `model` and `optimizer` (which must have the same shapes), tensors onto `device`.
// Throws mme::FileError.
CheckpointState load_checkpoint(const std::filesystem::path& path, torch::nn::Module& model,
                                torch::optim::Optimizer& optimizer, const torch::Device& device);

// The settings a checkpoint was written with (its identity). Throws mme::FileError.
nlohmann::json checkpoint_settings(const std::filesystem::path& path);

// Weights only (for evaluation and export).
void load_weights(const std::filesystem::path& path, torch::nn::Module& model, const torch::Device& device);

}  // namespace trainer
