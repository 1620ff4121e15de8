#pragma once
// The multi-threaded prefetching loader (std::thread; no TBB, which the GPU machine lacks).
//
// Micro-batch m of the run is fixed by (seed, m) alone: epoch e = m / batches_per_epoch visits the
// videos in a permutation drawn from (seed, e); a visit reads one video and makes data.repeats clips
// from it (repeated sampling), each with its own random stream (seed, e, slot) for frame offset,
// crop, flip and mask. So any thread count gives the same batches, and a run resumed at step m sees
// exactly what the uninterrupted run saw. Workers write straight into the batch tensors (pinned
// when the run is on CUDA, for non-blocking copies) and stay at most data.prefetch batches ahead.
#include <trainer/clip_dataset.h>
#include <trainer/clip_geometry.h>
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
  torch::Tensor mask;          // bool [B, tokens], true = masked
  torch::Tensor trajectory;    // float [B, slices, g, g, L, 2] input pixels (g = S / cell), if used
  torch::Tensor valid;         // uint8 [B, slices, g, g], if used
  torch::Tensor labels;        // int64 [B] (-1 without labels)
  torch::Tensor boxes;         // float [B, 4]: the video's motion box in token units (when the mask reads motion)
  std::vector<int> videos;     // index into ClipDataset::videos() per clip
  std::vector<CropBox> crops;  // where each clip was cut from its video's frames
  std::vector<std::vector<int>> frame_indices;  // the native frames of each clip
  int replaced = 0;                             // clips taken from another video after a read error
};

class ClipLoader {
 public:
  // `trajectories`: the batches carry trajectory maps (a target uses them).
  ClipLoader(const ClipDataset& dataset, const TrainConfig& config, const MaskGenerator& masks, bool trajectories,
             long first_batch, bool pin_memory);
  ~ClipLoader();
  ClipLoader(const ClipLoader&) = delete;
  ClipLoader& operator=(const ClipLoader&) = delete;

  // Full batches per epoch (the last partial one is dropped, as in VideoMAE).
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
  const MaskGenerator& masks_;
  bool pin_;
  bool trajectories_ = false;
  int batch_ = 0, grid_ = 0, slices_ = 0, tokens_ = 0;
  long batches_per_epoch_ = 0;
  long slots_per_epoch_ = 0;  // used slots: batches_per_epoch x batch

  mutable std::mutex mutex_;
  std::condition_variable work_cv_, done_cv_;
  long next_visit_ = 0;  // global visit counter: epoch x videos + position
  long consumed_ = 0;    // next batch to hand out
  std::map<long, std::unique_ptr<Pending>> pending_;
  std::map<long, std::vector<int>> orders_;  // epoch -> permutation, cached
  std::vector<std::string> errors_;
  std::exception_ptr fatal_;
  bool stop_ = false;
  double wait_seconds_ = 0;
  std::vector<std::thread> threads_;
};

}  // namespace trainer
