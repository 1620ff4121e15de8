#pragma once
// MME's appearance target: HOG of the second frame of each tube, computed on the device every
// step (docs/method.md section 1): per RGB channel a 3x3 Sobel (reflect-padded; no bias, unlike the
// public code's conv), 9 unsigned orientation bins of 20 degrees with the gradient magnitude split
// linearly between the two nearest bin centres, averaged over 8x8 cells, no block normalisation.
// A 16x16 patch gives 3 x 9 x 2 x 2 = 108 values, ordered (channel, bin, cell row, cell col).
#include <trainer/target.h>

namespace trainer {

inline constexpr int kHogBins = 9;
inline constexpr int kHogCell = 8;

// [N, 3, H, W] in [0, 1] -> [N, 3, kHogBins, H / kHogCell, W / kHogCell].
torch::Tensor hog_features(const torch::Tensor& images);

class HogTarget : public Target {
 public:
  explicit HogTarget(const TrainConfig& config);
  std::string name() const override { return "hog"; }
  int channels() const override { return 3 * kHogBins * (patch_ / kHogCell) * (patch_ / kHogCell); }
  torch::Tensor compute(const TargetInput& input) const override;

 private:
  int tubelet_, patch_;
};

}  // namespace trainer
