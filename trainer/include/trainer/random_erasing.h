#pragma once
// Random erasing as VideoMAE fine-tunes with it (timm's RandomErasing, mode "pixel", one region):
// with probability `probability`, a rectangle of area share U(0.02, 1/3) and aspect ratio
// log-uniform in (0.3, 1/0.3) (ten tries to fit it) is filled with per-pixel normal noise. On a clip
// here: the same rectangle and the same noise in every frame (VideoMAE's code erases each frame
// apart). The noise is drawn in the model's normalised space, N(0, 1) per channel, as timm does after
// normalisation, and stored as the pixel value it stands for (mean + std x noise, ImageNet's),
// clipped to 0..255.
#include <trainer/rng.h>

#include <cstdint>

namespace trainer {

struct RandomErasing {
  double probability = 0.25;
  double min_area = 0.02, max_area = 1.0 / 3;
  double min_aspect = 0.3;

  // Erases in place (uint8 RGB, `count` frames of width x height). Returns the share of each
  // frame's pixels erased (0 when it did not erase).
  double apply(std::uint8_t* frames, int count, int width, int height, Rng& rng) const;
};

}  // namespace trainer
