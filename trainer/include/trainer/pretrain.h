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

// The targets a run trains on (weight > 0), in name order.
std::vector<std::pair<std::unique_ptr<Target>, double>> make_targets(const TrainConfig& config);

// The pretraining model for a run's settings: one head per target of weight > 0.
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
Losses masked_losses(MaskedVideoModel& model, const std::vector<std::pair<std::unique_ptr<Target>, double>>& targets,
                     const DeviceBatch& batch, bool bf16);

// Runs (or resumes) the run described by `config`. Returns a process exit code (mme::cli).
int pretrain(const TrainConfig& config);

}  // namespace trainer
