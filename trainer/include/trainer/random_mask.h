#pragma once
// Random masking over all tokens (MAE / SpatioTemporalMAE): int(ratio x tokens) masked anywhere.
#include <trainer/mask_generator.h>

namespace trainer {

class RandomMask : public MaskGenerator {
 public:
  explicit RandomMask(double ratio) : ratio_(ratio) {}
  std::string name() const override { return "random"; }
  int masked_count(const MaskContext& grid) const override { return static_cast<int>(ratio_ * grid.tokens()); }
  void generate(const MaskContext& context, Rng& rng, std::uint8_t* mask) const override;

 private:
  double ratio_;
};

}  // namespace trainer
