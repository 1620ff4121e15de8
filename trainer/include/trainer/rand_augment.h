#pragma once
// RandAugment as VideoMAE fine-tunes with it (timm's rand_augment_transform, VideoMAE's
// rand_augment.py for frame lists): `n` operations drawn with replacement from timm's "increasing"
// list, each applied with probability 0.5 at magnitude m + N(0, mstd) clipped to [0, 10], with the
// same draws (operation, magnitude, sign) for every frame of the clip; AutoContrast and Equalize
// use each frame's own statistics, as they do per PIL image. Geometric operations sample bilinearly
// and fill with VideoMAE's fill colour (124, 116, 104). The spec string is timm's:
// "rand-m7-n4-mstd0.5-inc1" (VideoMAE's default).
#include <trainer/rng.h>

#include <cstdint>
#include <string>
#include <vector>

namespace trainer {

class RandAugment {
 public:
  // Throws std::invalid_argument for a spec that is not "rand-..." with m, n, mstd, inc fields.
  explicit RandAugment(const std::string& spec);

  // The operations, in timm's order of _RAND_INCREASING_TRANSFORMS.
  static const std::vector<std::string>& operations();

  // Augments `frames` (uint8 RGB, `count` frames of width x height, contiguous) in place.
  void apply(std::uint8_t* frames, int count, int width, int height, Rng& rng) const;

  // One operation at a magnitude in [0, 10] with the sign of `negate` (for the symmetric ones), on
  // every frame; exposed for tests.
  static void apply_operation(const std::string& name, double magnitude, bool negate, std::uint8_t* frames, int count,
                              int width, int height);

  int layers() const { return layers_; }
  double magnitude() const { return magnitude_; }
  double magnitude_std() const { return magnitude_std_; }

 private:
  int layers_ = 2;
  double magnitude_ = 9;
  double magnitude_std_ = 0;
};

}  // namespace trainer
