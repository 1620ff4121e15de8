#pragma once
// The fine-tuning augmentations the loader makes on each clip after its crop (VideoMAE's
// `_aug_frame`): RandAugment, then random erasing, from the clip's own stream (rng.h), so a clip is
// the same for any number of threads or ranks and after a resume. VideoMAE applies RandAugment to
// the whole frame before its crop; here it runs on the cropped S x S clip (cheaper; the
// operations are relative to the frame's size).
#include <trainer/config.h>
#include <trainer/rand_augment.h>
#include <trainer/random_erasing.h>

#include <memory>
#include <optional>

namespace trainer {

struct ClipAugment {
  std::optional<RandAugment> rand_augment;
  std::optional<RandomErasing> erasing;

  // From finetune.rand_augment and finetune.erase; nullptr when both are off.
  static std::unique_ptr<ClipAugment> from(const FinetuneConfig& config) {
    auto out = std::make_unique<ClipAugment>();
    if (!config.rand_augment.empty()) out->rand_augment.emplace(config.rand_augment);
    if (config.erase > 0) out->erasing = RandomErasing{.probability = config.erase};
    if (!out->rand_augment && !out->erasing) return nullptr;
    return out;
  }

  // `frames`: uint8 RGB, `count` frames of size x size.
  void apply(std::uint8_t* frames, int count, int size, Rng& rng) const {
    if (rand_augment) rand_augment->apply(frames, count, size, size, rng);
    if (erasing) erasing->apply(frames, count, size, size, rng);
  }
};

}  // namespace trainer
