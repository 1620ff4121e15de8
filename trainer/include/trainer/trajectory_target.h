#pragma once
// MME's motion target (docs/method.md section 1): for each tube, the trajectories of the seeds inside
// its patch that start at the tube's first frame, L native steps long (dense in time although the
// input is sparse). With a seed every 8 px and 16 px patches: 2 x 2 points x L steps x (x, y).
// Normalisation (`trajectory.norm`):
//   patch      per token, per step and coordinate, across its points: subtract the mean, divide
//              by the unbiased std + 1e-6 (public MME: removes the common translation, keeps shape)
//   raw20      displacement / 20 px
//   magnitude  per point, divided by the sum of its step lengths (iDT's shape descriptor)
// A token's loss counts only when at least one of its points stayed inside the frame.
#include <trainer/target.h>

namespace trainer {

// [B, slices, g, g, L, 2] -> [B, tokens, points, L, 2] with points = (patch / cell)^2 ordered
// (row, col) inside the patch.
torch::Tensor trajectory_tokens(const torch::Tensor& trajectory, int patch, int cell);

// Applies the normalisation to [B, tokens, points, L, 2].
torch::Tensor normalise_trajectories(const torch::Tensor& tokens, const std::string& norm);

class TrajectoryTarget : public Target {
 public:
  explicit TrajectoryTarget(const TrainConfig& config);
  std::string name() const override { return "trajectory"; }
  int channels() const override { return points_ * steps_ * 2; }
  torch::Tensor compute(const TargetInput& input) const override;
  torch::Tensor weight(const TargetInput& input) const override;
  ClipNeeds needs() const override { return {.trajectories = true}; }

 private:
  int patch_, cell_, points_, steps_;
  std::string norm_;
};

}  // namespace trainer
