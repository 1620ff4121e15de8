#pragma once
// Masked-video pretraining (`trainer pretrain`): the training loop in one place. A clip goes
// ClipLoader (frames, trajectories, mask; clip_loader.h) -> device -> targets (target.h) ->
// MaskedVideoModel (model.h) -> one loss per target on the masked tokens -> their weighted sum.
#include <trainer/clip_loader.h>
#include <trainer/config.h>
#include <trainer/model.h>
#include <trainer/target.h>
#include <trainer/training_loop.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace trainer {

// The targets a run trains on (weight > 0), in name order, with their weights.
using Targets = std::vector<std::pair<std::unique_ptr<Target>, double>>;
Targets make_targets(const TrainConfig& config);
// What the targets read besides the frames (the union of their needs()).
ClipNeeds needs_of(const Targets& targets);

// The pretraining model: one head per target (the run's settings' targets, when not given).
MaskedVideoModel make_model(const TrainConfig& config, const Targets& targets);
MaskedVideoModel make_model(const TrainConfig& config);

// Moves a batch to `device` (non-blocking from pinned memory) and returns the model input and
// the targets' view of it.
struct DeviceBatch {
  torch::Tensor video;  // normalised model input [B, 3, T, S, S]
  torch::Tensor mask;   // bool [B, tokens]
  TargetInput targets;
};
DeviceBatch to_device(const Batch& batch, const torch::Device& device);

// Per target: mean squared error over the values of each masked token, times the token's weight
// (trajectory: 1 when one of its points stayed valid), summed and divided by the number of
// masked tokens (MME's normalisation; for pixels this is VideoMAE's plain MSE).
Losses masked_losses(MaskedVideoModel& model, const Targets& targets, const DeviceBatch& batch, bool bf16);

// Runs (or resumes) the run described by `config`. Returns a process exit code (mme::cli).
int pretrain(const TrainConfig& config);

}  // namespace trainer
