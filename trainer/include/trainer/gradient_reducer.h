#pragma once
// Gradient averaging over the ranks, as PyTorch's DDP does it: the parameters are packed, in the
// reverse of their registration order (roughly the order backward produces their gradients),
// into flat buckets of at most run.bucket_mb, and each bucket is all-reduced once it is whole.
// With `overlap`, a hook on every parameter copies its gradient into its bucket as backward
// produces it and starts the bucket's all-reduce as soon as the bucket is complete, while backward
// goes on with the layers below; without, everything is reduced after backward.
#include <trainer/process_group.h>

#include <torch/torch.h>

#include <memory>
#include <mutex>
#include <vector>

namespace trainer {

class GradientReducer {
 public:
  GradientReducer(ProcessGroup& group, const std::vector<torch::Tensor>& parameters, std::size_t bucket_bytes,
                  bool overlap);
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // Call before the backward pass of a step's last micro-batch: its hooks then start the reduction.
  void arm();
  // After that backward pass: reduces what is left (parameters that got no gradient count as 0),
  // waits for every bucket and leaves each parameter's .grad the mean over the ranks.
  void finish();
  // Seconds finish() spent waiting for the all-reduce (the part not hidden behind backward).
  double wait_seconds() const { return wait_seconds_; }
  int buckets() const { return static_cast<int>(buckets_.size()); }

 private:
  struct Bucket;
  struct Slot {
    torch::Tensor parameter;
    int bucket = 0;
    std::int64_t offset = 0;
    bool filled = false;
  };
  void fill(Slot& slot, const torch::Tensor& grad);

  ProcessGroup& group_;
  bool overlap_;
  bool armed_ = false;
  std::vector<Slot> slots_;
  std::vector<std::unique_ptr<Bucket>> buckets_;
  std::size_t next_launch_ = 0;  // the next bucket to all-reduce
  std::mutex mutex_;
  std::vector<unsigned> hooks_;
  double wait_seconds_ = 0;
};

}  // namespace trainer
