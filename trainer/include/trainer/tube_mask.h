#pragma once
// VideoMAE's tube masking: the same int(ratio x rows x cols) spatial positions are masked in every
// time slice, so a masked patch cannot be copied from its neighbour in time.
#include <trainer/mask_generator.h>

namespace trainer {

class TubeMask : public MaskGenerator {
 public:
  explicit TubeMask(double ratio) : ratio_(ratio) {}
  std::string name() const override { return "tube"; }
  int masked_count(const MaskContext& grid) const override;
  void generate(const MaskContext& context, Rng& rng, std::uint8_t* mask) const override;

 private:
  double ratio_;
};

}  // namespace trainer
