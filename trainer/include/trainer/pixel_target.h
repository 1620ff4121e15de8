#pragma once
// VideoMAE's target: each tube's pixels, normalised per colour channel by the tube's own mean and
// unbiased std (docs/method.md section 2). tubelet x patch x patch x 3 values per token.
#include <trainer/target.h>

namespace trainer {

class PixelTarget : public Target {
 public:
  explicit PixelTarget(const TrainConfig& config) : tubelet_(config.model.tubelet), patch_(config.model.patch) {}
  std::string name() const override { return "pixel"; }
  int channels() const override { return tubelet_ * patch_ * patch_ * 3; }
  torch::Tensor compute(const TargetInput& input) const override;

 private:
  int tubelet_, patch_;
};

}  // namespace trainer
