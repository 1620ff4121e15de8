#include <trainer/gradient_reducer.h>

#include <chrono>

namespace trainer {

struct GradientReducer::Bucket {
  torch::Tensor flat;  // the bucket's gradients, back to back
  int size = 0;        // slots in it
  int filled = 0;
  c10::intrusive_ptr<c10d::Work> work;
};

GradientReducer::GradientReducer(ProcessGroup& group, const std::vector<torch::Tensor>& parameters,
                                 std::size_t bucket_bytes, bool overlap)
    : group_(group), overlap_(overlap) {
  if (!group_.active()) return;  // nothing to reduce, no buffers
  std::vector<torch::Tensor> trainable;
  for (const auto& p : parameters)
    if (p.requires_grad()) trainable.push_back(p);
  // Reverse order: the last layers' gradients come first in backward.
  std::vector<std::vector<int>> members;
  std::size_t bytes = bucket_bytes;
  for (int i = static_cast<int>(trainable.size()) - 1; i >= 0; --i) {
    const auto& p = trainable[i];
    const std::size_t size = p.numel() * p.element_size();
    if (members.empty() || (bytes + size > bucket_bytes && bytes > 0) ||
        p.scalar_type() != trainable[members.back().front()].scalar_type()) {
      members.emplace_back();
      bytes = 0;
    }
    members.back().push_back(i);
    bytes += size;
  }
  for (const auto& indices : members) {
    auto bucket = std::make_unique<Bucket>();
    std::int64_t offset = 0;
    for (int i : indices) {
      slots_.push_back({trainable[i], static_cast<int>(buckets_.size()), offset, false});
      offset += trainable[i].numel();
    }
    const auto& first = trainable[indices.front()];
    bucket->flat = torch::zeros({offset}, first.options().requires_grad(false));
    bucket->size = static_cast<int>(indices.size());
    buckets_.push_back(std::move(bucket));
  }
  if (!overlap_) return;
  for (std::size_t s = 0; s < slots_.size(); ++s) {
    hooks_.push_back(slots_[s].parameter.register_hook([this, s](const torch::Tensor& grad) {
      if (!armed_) return;
      auto& slot = slots_[s];
      // The hook sees this backward's gradient before it is added to .grad, which holds what the
      // earlier micro-batches of the step accumulated: the bucket gets their sum.
      const auto accumulated = slot.parameter.grad();
      fill(slot, accumulated.defined() ? grad + accumulated : grad);
    }));
  }
}

GradientReducer::~GradientReducer() {
  for (std::size_t s = 0; s < hooks_.size(); ++s) slots_[s].parameter.remove_hook(hooks_[s]);
}

void GradientReducer::fill(Slot& slot, const torch::Tensor& grad) {
  auto& bucket = *buckets_[slot.bucket];
  auto part = bucket.flat.narrow(0, slot.offset, slot.parameter.numel());
  if (grad.defined())
    part.view_as(slot.parameter).copy_(grad);
  else
    part.zero_();
  std::lock_guard lock(mutex_);  // hooks may run on autograd's worker threads
  slot.filled = true;
  ++bucket.filled;
  // Every rank must start the same collectives in the same order (Gloo and NCCL match them by
  // sequence): buckets go out in index order, a complete one waiting for those before it.
  while (next_launch_ < buckets_.size() && buckets_[next_launch_]->filled == buckets_[next_launch_]->size) {
    auto& ready = *buckets_[next_launch_++];
    ready.flat.div_(group_.size());
    ready.work = group_.allreduce_sum_async(ready.flat);
  }
}

void GradientReducer::arm() {
  armed_ = overlap_;
}

void GradientReducer::finish() {
  armed_ = false;
  if (!group_.active()) return;
  const auto start = std::chrono::steady_clock::now();
  // What the hooks did not reduce yet: everything without overlap, unused parameters with it.
  for (auto& slot : slots_)
    if (!slot.filled) fill(slot, slot.parameter.grad());
  for (std::size_t b = 0; b < buckets_.size(); ++b) group_.wait(buckets_[b]->work, "gradient all-reduce");
  for (auto& slot : slots_) {
    const auto part = buckets_[slot.bucket]->flat.narrow(0, slot.offset, slot.parameter.numel());
    auto& grad = slot.parameter.mutable_grad();
    if (grad.defined())
      grad.copy_(part.view_as(slot.parameter));
    else
      grad = part.view_as(slot.parameter).clone();
    slot.filled = false;
  }
  for (auto& bucket : buckets_) {
    bucket->filled = 0;
    bucket->work.reset();
  }
  next_launch_ = 0;
  wait_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace trainer
