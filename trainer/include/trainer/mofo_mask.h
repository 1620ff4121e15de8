#pragma once
// MOFO's motion-focused tube masking (docs/method.md section 3), the paper's rule: of the n masked
// positions per slice (n = int(ratio x rows x cols), the same in every slice as in tube masking),
// k = min(n, floor(0.75 x |positions inside the box|)) are drawn inside the video's motion box and
// the other n - k outside it (all of them when the outside has too few). A position is inside when
// its token's centre is. The public code's axis swap and AND/OR mix-up are not reproduced.
#include <trainer/mask_generator.h>

namespace trainer {

class MofoMask : public MaskGenerator {
 public:
  MofoMask(double ratio, double inside_share) : ratio_(ratio), inside_share_(inside_share) {}
  std::string name() const override { return "mofo"; }
  int masked_count(const MaskContext& grid) const override;
  void generate(const MaskContext& context, Rng& rng, std::uint8_t* mask) const override;
  ClipNeeds needs() const override { return {.motion_box = true}; }
  // Positions (row x cols + col) whose centre lies inside the box.
  static std::vector<int> inside(const MaskContext& context);

 private:
  double ratio_, inside_share_;
};

}  // namespace trainer
