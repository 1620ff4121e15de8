#pragma once
// The multi-threaded prefetching loader (std::thread; no TBB, which the GPU machine lacks).
//
// The clips of optimiser step s are fixed by (seed, s) alone: epoch e = s / steps_per_epoch visits
// the videos in a permutation drawn from (seed, e); a visit reads one video and makes data.repeats
// clips from it (repeated sampling) in consecutive slots of the epoch, each with its own random
// stream (seed, e, slot) for frame offset, crop, flip and mask. Step q of the epoch takes the slots
// [q x G, (q + 1) x G) of the global batch G = batch x ranks x accumulate: micro-batch a of rank r
// takes the `batch` slots from q x G + (a x ranks + r) x batch (DistributedSampler's disjoint
// parts; a video's repeated clips stay on one rank when batch is a multiple of data.repeats). So
// any thread count, any number of ranks and any split of G into batch x accumulate gives the same
// clips per step, and a run resumed at step s sees exactly what the uninterrupted run saw. Workers write straight into
// the batch tensors (pinned when the run is on CUDA, for non-blocking copies) and stay at most data.prefetch batches
// ahead.
#include <trainer/clip_augment.h>
#include <trainer/clip_dataset.h>
#include <trainer/clip_geometry.h>
#include <trainer/clip_needs.h>
#include <trainer/config.h>
#include <trainer/mask_generator.h>

#include <torch/torch.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace trainer {

struct Batch {
  long index = 0;              // micro-batch index in the run
  torch::Tensor frames;        // uint8 [B, T, S, S, 3] (RGB)
  torch::Tensor mask;          // bool [B, tokens], true = masked (when the run masks)
  torch::Tensor trajectory;    // float [B, slices, g, g, L, 2] input pixels (g = S / cell): needs.trajectories
  torch::Tensor valid;         // uint8 [B, slices, g, g]: needs.trajectories
  torch::Tensor labels;        // int64 [B] (-1 without labels)
  torch::Tensor boxes;         // float [B, 4]: the video's motion box in token units: needs.motion_box
  std::vector<int> videos;     // index into ClipDataset::videos() per clip
  std::vector<CropBox> crops;  // where each clip was cut from its video's frames
  std::vector<std::vector<int>> frame_indices;  // the native frames of each clip
  int replaced = 0;                             // clips taken from another video after a read error
};

// Optimiser steps per epoch: the epoch's clips (videos x data.repeats) in whole global batches (the
// tail is dropped, as in VideoMAE). Throws std::invalid_argument when there is not one.
long steps_per_epoch(long videos, const TrainConfig& config);

class ClipLoader {
 public:
  // `masks`: the clips' masks (nullptr: none). `needs`: what the batches carry besides frames and
  // labels, for the run's targets and heads (the mask's own needs are added). `first_batch`: this
  // rank's first micro-batch (step x accumulate). `rank`: of config.world_size ranks.
  // `augment`: fine-tuning's per-clip augmentations (nullptr: none).
  ClipLoader(const ClipDataset& dataset, const TrainConfig& config, const MaskGenerator* masks, ClipNeeds needs,
             long first_batch, bool pin_memory, int rank = 0, const ClipAugment* augment = nullptr);
  ~ClipLoader();
  ClipLoader(const ClipLoader&) = delete;
  ClipLoader& operator=(const ClipLoader&) = delete;

  // This rank's micro-batches per epoch: steps_per_epoch x accumulate.
  long batches_per_epoch() const { return batches_per_epoch_; }
  // The next micro-batch, in order. Rethrows a worker's fatal error.
  Batch next();
  // Seconds next() spent waiting for workers so far.
  double wait_seconds() const { return wait_seconds_; }
  // Errors met so far (each names the file and the video), for the run's report.
  std::vector<std::string> errors() const;

 private:
  struct Pending;
  void work();
  void make_clip(long epoch, long slot, int video, Pending& batch, int position);
  Pending& pending_locked(long index);
  std::vector<int> epoch_order(long epoch) const;

  const ClipDataset& dataset_;
  TrainConfig config_;
  const MaskGenerator* masks_;
  const ClipAugment* augment_;
  bool pin_;
  ClipNeeds needs_;  // the run's and the mask's
  int batch_ = 0, grid_ = 0, slices_ = 0, tokens_ = 0;
  int rank_ = 0;
  long micro_clips_ = 0;        // clips of one micro-batch over all ranks: batch x ranks
  long batches_per_epoch_ = 0;  // micro-batches per epoch
  long slots_per_epoch_ = 0;    // used slots: batches_per_epoch x micro_clips

  mutable std::mutex mutex_;
  std::condition_variable work_cv_, done_cv_;
  long next_visit_ = 0;  // global visit counter: epoch x videos + position
  long consumed_ = 0;    // next batch to hand out
  std::map<long, std::unique_ptr<Pending>> pending_;
  std::map<long, std::vector<int>> orders_;  // epoch -> permutation, cached
  std::vector<std::string> errors_;
  std::set<std::string> warned_;
  std::exception_ptr fatal_;
  bool stop_ = false;
  double wait_seconds_ = 0;
  std::vector<std::thread> threads_;
};

}  // namespace trainer
