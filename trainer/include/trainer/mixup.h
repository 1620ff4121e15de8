#pragma once
// Mixup and CutMix as VideoMAE fine-tunes with them (timm's Mixup, mode "batch", in VideoMAE's
// mixup.py): with probability `probability` per micro-batch, either CutMix (with probability
// `switch_probability`, lambda ~ Beta(cutmix, cutmix)) or Mixup (lambda ~ Beta(mixup, mixup)) pairs
// clip i with clip B-1-i (the batch flipped). CutMix pastes a box of side sqrt(1 - lambda) of the
// frame (centre uniform, clipped; lambda corrected to the pasted area) into every frame alike.
// The targets are the label-smoothed one-hots mixed with the same lambda; the loss is the soft
// cross-entropy. As in VideoMAE the draws are per rank and micro-batch.
#include <trainer/rng.h>

#include <torch/torch.h>

namespace trainer {

struct Mixup {
  double mixup = 0.8, cutmix = 1.0;  // Beta parameters; 0 switches one off
  double probability = 1.0, switch_probability = 0.5;
  double smoothing = 0.1;
  int classes = 0;

  bool enabled() const { return mixup > 0 || cutmix > 0; }

  struct Result {
    torch::Tensor video;    // mixed [B, 3, T, S, S]
    torch::Tensor targets;  // float [B, classes]
    double lambda = 1;      // the share of each clip's own content
    bool cut = false;       // CutMix (else Mixup, or nothing when lambda is 1)
  };
  // video [B, 3, T, S, S], labels int64 [B] (on any device).
  Result apply(const torch::Tensor& video, const torch::Tensor& labels, Rng& rng) const;
};

// Label-smoothed one-hot targets of `labels` mixed with their flipped order: lambda y + (1 - lambda) y.flip.
torch::Tensor mixed_targets(const torch::Tensor& labels, int classes, double lambda, double smoothing);

}  // namespace trainer
