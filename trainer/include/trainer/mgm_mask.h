#pragma once
// Motion-guided masking (MGM, docs/method.md section 4). MGM publishes no code; our rule: in every time
// slice, the n = int(ratio x rows x cols) positions with the most motion are masked, motion being
// trajgen's `motion` map (codec motion vectors when the video has them, else dense flow) averaged
// over the slice's frames, after the clip's crop. Because each slice ranks its own motion, the
// masked region sits where things move and travels with them from slice to slice. Ties and
// near-ties are broken by a random jitter of `jitter` x the clip's largest motion (so still
// clips, or still parts, are masked at random); jitter 0 ranks by motion alone.
#include <trainer/mask_generator.h>

namespace trainer {

class MgmMask : public MaskGenerator {
 public:
  MgmMask(double ratio, double jitter) : ratio_(ratio), jitter_(jitter) {}
  std::string name() const override { return "mgm"; }
  int masked_count(const MaskContext& grid) const override { return masked_per_slice(ratio_, grid) * grid.slices; }
  void generate(const MaskContext& context, Rng& rng, std::uint8_t* mask) const override;
  ClipNeeds needs() const override { return {.motion_map = true}; }

  // Motion per token [slices, rows, cols], input pixels per native frame: each slice the mean of
  // its frames' maps, resampled to the tokens through the clip's crop and scaled by its zoom.
  static std::vector<float> token_motion(const ClipMotion& motion, const MaskContext& grid);
  // The rule on given motion per token (empty: none, the jitter alone decides).
  void rank(const MaskContext& grid, const std::vector<float>& motion, Rng& rng, std::uint8_t* mask) const;

 private:
  double ratio_, jitter_;
};

}  // namespace trainer
