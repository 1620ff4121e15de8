#include <trainer/trajectory_target.h>

#include <fmt/format.h>

#include <stdexcept>

namespace trainer {

torch::Tensor trajectory_tokens(const torch::Tensor& trajectory, int patch, int cell) {
  const auto B = trajectory.size(0), T = trajectory.size(1), g = trajectory.size(2), L = trajectory.size(4);
  const int p = patch / cell;
  const auto side = g / p;
  return trajectory.reshape({B, T, side, p, side, p, L, 2})
      .permute({0, 1, 2, 4, 3, 5, 6, 7})  // B, t, row, col, point row, point col, L, 2
      .reshape({B, T * side * side, p * p, L, 2});
}

torch::Tensor normalise_trajectories(const torch::Tensor& tokens, const std::string& norm) {
  if (norm == "patch") {
    const auto mean = tokens.mean(2, /*keepdim=*/true);
    const auto std = tokens.var(2, /*unbiased=*/true, /*keepdim=*/true).sqrt();
    return (tokens - mean) / (std + 1e-6);
  }
  if (norm == "raw20") return tokens / 20.0;
  if (norm == "magnitude") {
    const auto length = tokens.norm(2, /*dim=*/{-1}, /*keepdim=*/true).sum(-2, /*keepdim=*/true);  // per point
    return tokens / length.clamp_min(1e-6);
  }
  throw std::invalid_argument(fmt::format("unknown trajectory.norm '{}'", norm));
}

TrajectoryTarget::TrajectoryTarget(const TrainConfig& config)
    : patch_(config.model.patch),
      cell_(config.trajectory.cell),
      steps_(config.trajectory.steps),
      norm_(config.trajectory.norm) {
  const int p = patch_ / cell_;
  points_ = p * p;
  if (norm_ == "patch" && points_ < 2)
    throw std::invalid_argument(fmt::format(
        "trajectory.norm=patch standardises across a patch's points, but model.patch {} / trajectory.cell {} "
        "leaves one point per patch",
        patch_, cell_));
}

torch::Tensor TrajectoryTarget::compute(const TargetInput& input) const {
  const auto tokens = trajectory_tokens(input.trajectory.to(torch::kFloat32), patch_, cell_);
  return normalise_trajectories(tokens, norm_).flatten(2);  // (point, step, coordinate)
}

torch::Tensor TrajectoryTarget::weight(const TargetInput& input) const {
  const auto B = input.valid.size(0), T = input.valid.size(1), g = input.valid.size(2);
  const int p = patch_ / cell_;
  const auto side = g / p;
  return input.valid.reshape({B, T, side, p, side, p})
      .permute({0, 1, 2, 4, 3, 5})
      .reshape({B, T * side * side, p * p})
      .amax(2)
      .gt(0)
      .to(torch::kFloat32);
}

}  // namespace trainer
