#include <trainer/clip_geometry.h>
#include <trainer/clip_loader.h>

#include <mme/error.h>
#include <mme/log.h>

#include <fmt/format.h>

#include <chrono>
#include <numeric>
#include <stdexcept>

namespace trainer {

// The random stream of an epoch's video order (clips use (epoch, slot + 1)).
constexpr std::uint64_t kEpochOrderStream = 0xE90C4;

struct ClipLoader::Pending {
  Batch batch;
  int remaining = 0;
};

long steps_per_epoch(long videos, const TrainConfig& config) {
  const long clips = videos * config.data.repeats, global = config.global_batch();
  if (clips < global)
    throw std::invalid_argument(fmt::format(
        "an epoch has {} videos x {} clips (data.repeats) = {} clips, fewer than one global batch of {} (optim.batch "
        "{} x {} rank(s) x optim.accumulate {}): lower optim.batch, use fewer ranks or raise data.repeats",
        videos, config.data.repeats, clips, global, config.optim.batch, config.world_size, config.optim.accumulate));
  return clips / global;
}

ClipLoader::ClipLoader(const ClipDataset& dataset, const TrainConfig& config, const MaskGenerator* masks,
                       ClipNeeds needs, long first_batch, bool pin_memory, int rank, const ClipAugment* augment)
    : dataset_(dataset), config_(config), masks_(masks), augment_(augment), pin_(pin_memory) {
  batch_ = config.optim.batch;
  rank_ = rank;
  needs_ = masks ? needs | masks->needs() : needs;
  slices_ = config.tokens_t();
  grid_ = config.model.img_size / config.trajectory.cell;
  tokens_ = config.tokens();
  const long n = static_cast<long>(dataset.videos().size());
  micro_clips_ = static_cast<long>(batch_) * config.world_size;
  batches_per_epoch_ = steps_per_epoch(n, config) * config.optim.accumulate;
  slots_per_epoch_ = batches_per_epoch_ * micro_clips_;
  consumed_ = first_batch;
  const long epoch = first_batch / batches_per_epoch_;
  const long first_slot = (first_batch % batches_per_epoch_) * micro_clips_ + static_cast<long>(rank_) * batch_;
  next_visit_ = epoch * n + first_slot / config.data.repeats;
  for (int t = 0; t < config.data.workers; ++t) threads_.emplace_back([this] { work(); });
}

ClipLoader::~ClipLoader() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : threads_) t.join();
}

std::vector<std::string> ClipLoader::errors() const {
  std::lock_guard lock(mutex_);
  return errors_;
}

std::vector<int> ClipLoader::epoch_order(long epoch) const {
  std::vector<int> order(dataset_.videos().size());
  std::iota(order.begin(), order.end(), 0);
  auto rng = Rng::stream(config_.run.seed, static_cast<std::uint64_t>(epoch), kEpochOrderStream);
  shuffle(order, rng);
  return order;
}

ClipLoader::Pending& ClipLoader::pending_locked(long index) {
  auto& p = pending_[index];
  if (!p) {
    p = std::make_unique<Pending>();
    auto& b = p->batch;
    b.index = index;
    const auto opts = torch::TensorOptions().pinned_memory(pin_);
    const long S = config_.model.img_size;
    b.frames = torch::empty({batch_, config_.model.frames, S, S, 3}, opts.dtype(torch::kUInt8));
    if (masks_) b.mask = torch::empty({batch_, tokens_}, opts.dtype(torch::kBool));
    b.labels = torch::empty({batch_}, opts.dtype(torch::kInt64));
    if (needs_.motion_box) b.boxes = torch::zeros({batch_, 4}, opts.dtype(torch::kFloat32));
    if (needs_.trajectories) {
      b.trajectory =
          torch::empty({batch_, slices_, grid_, grid_, config_.trajectory.steps, 2}, opts.dtype(torch::kFloat32));
      b.valid = torch::empty({batch_, slices_, grid_, grid_}, opts.dtype(torch::kUInt8));
    }
    b.videos.assign(batch_, -1);
    b.crops.resize(batch_);
    b.frame_indices.resize(batch_);
    p->remaining = batch_;
  }
  return *p;
}

void ClipLoader::work() {
  const long n = static_cast<long>(dataset_.videos().size());
  const int repeats = config_.data.repeats;
  for (;;) {
    std::vector<std::pair<long, Pending*>> jobs;  // (slot, batch)
    long epoch = 0, position = 0;
    int video = 0;
    {
      std::unique_lock lock(mutex_);
      auto first_batch_of = [&](long visit) {
        return (visit / n) * batches_per_epoch_ + (visit % n) * repeats / micro_clips_;
      };
      work_cv_.wait(lock,
                    [&] { return stop_ || fatal_ || first_batch_of(next_visit_) < consumed_ + config_.data.prefetch; });
      if (stop_ || fatal_) return;
      const long visit = next_visit_++;
      epoch = visit / n;
      position = visit % n;
      for (int r = 0; r < repeats; ++r) {
        const long slot = position * repeats + r;
        if (slot >= slots_per_epoch_) continue;                 // the dropped tail of the epoch
        if ((slot % micro_clips_) / batch_ != rank_) continue;  // another rank's part
        const long m = epoch * batches_per_epoch_ + slot / micro_clips_;
        if (m < consumed_) continue;  // before the resume point
        jobs.emplace_back(slot, &pending_locked(m));
      }
      if (jobs.empty()) continue;
      if (!orders_.count(epoch)) orders_[epoch] = epoch_order(epoch);
      // Epochs every batch still pending is past can go.
      const long oldest = consumed_ / batches_per_epoch_;
      while (!orders_.empty() && orders_.begin()->first < oldest) orders_.erase(orders_.begin());
      video = orders_.at(epoch)[position];
    }
    for (auto& [slot, pending] : jobs) {
      try {
        make_clip(epoch, slot, video, *pending, static_cast<int>(slot % batch_));
      } catch (...) {
        std::lock_guard lock(mutex_);
        if (!fatal_) fatal_ = std::current_exception();
        done_cv_.notify_all();
        work_cv_.notify_all();
        return;
      }
      std::lock_guard lock(mutex_);
      if (--pending->remaining == 0) done_cv_.notify_all();
    }
  }
}

void ClipLoader::make_clip(long epoch, long slot, int video, Pending& pending, int position) {
  const auto& videos = dataset_.videos();
  const auto& m = config_.model;
  const int S = m.img_size;
  auto rng = Rng::stream(config_.run.seed, static_cast<std::uint64_t>(epoch), static_cast<std::uint64_t>(slot) + 1);
  ClipSource source;
  const int n = static_cast<int>(videos.size());
  for (int attempt = 0;; ++attempt) {
    // A video that cannot be read is replaced by the next one in the dataset's order: still the
    // same clip for every thread count and after a resume.
    const int v = (video + attempt) % n;
    const auto& entry = videos[v];
    const auto frames = sample_frame_indices(entry.frames, m.frames, config_.data.stride, rng);
    const auto crop = multi_scale_crop(entry.width, entry.height, config_.data.scales, config_.data.max_distort, S,
                                       config_.data.flip, rng);
    std::vector<int> starts;
    if (needs_.trajectories)
      for (int k = 0; k < slices_; ++k) starts.push_back(frames[k * m.tubelet]);
    try {
      dataset_.read(entry, frames, starts, needs_, source);
      for (const auto& f : source.frames)
        if (f.width != entry.width || f.height != entry.height)
          throw mme::FileError(config_.data.flow_dir / entry.flow_file,
                               fmt::format("video {}: a frame is {}x{}, the video {}x{}", entry.id, f.width, f.height,
                                           entry.width, entry.height));
    } catch (const mme::FileError& e) {
      bool first = false;
      {
        std::lock_guard lock(mutex_);
        errors_.push_back(e.what());
        // The damage, without the frame that met it (" (frame 47, bytes ...)" at the end).
        const std::string what = e.what();
        first = warned_.insert(what.substr(0, what.rfind(" (frame "))).second;
      }
      // Once per damage: every later clip that meets it is counted (the run's summary), not repeated.
      if (first) mme::log::warn("{} (clip taken from the next video; further clips meeting it are counted)", e.what());
      if (attempt + 1 >= n) throw;
      continue;
    }
    auto& b = pending.batch;
    const std::size_t frame_bytes = static_cast<std::size_t>(S) * S * 3;
    auto* out = b.frames.data_ptr<std::uint8_t>() + static_cast<std::size_t>(position) * m.frames * frame_bytes;
    for (int t = 0; t < m.frames; ++t) crop_resize_rgb(source.frames[t], crop, S, out + t * frame_bytes);
    if (augment_) {
      // A stream of its own: the clip's other draws (frames, crop, mask) stay as without augmentation.
      constexpr std::uint64_t kAugmentSalt = 0x3c6ef372fe94f82bULL;
      auto augment_rng = Rng::stream(config_.run.seed ^ kAugmentSalt, static_cast<std::uint64_t>(epoch),
                                     static_cast<std::uint64_t>(slot) + 1);
      augment_->apply(out, m.frames, S, augment_rng);
    }
    if (needs_.trajectories) {
      const std::size_t cells = static_cast<std::size_t>(grid_) * grid_;
      const std::size_t values = cells * config_.trajectory.steps * 2;
      float* traj = b.trajectory.data_ptr<float>() + static_cast<std::size_t>(position) * slices_ * values;
      std::uint8_t* valid = b.valid.data_ptr<std::uint8_t>() + static_cast<std::size_t>(position) * slices_ * cells;
      for (int k = 0; k < slices_; ++k)
        crop_resize_trajectories(source.displacement[k].data(), source.valid[k].data(), entry.grid_h, entry.grid_w,
                                 config_.trajectory.steps, config_.trajectory.cell, crop, S, traj + k * values,
                                 valid + k * cells);
    }
    MaskContext context{slices_, S / m.patch, S / m.patch, {}, nullptr};
    if (needs_.motion_box) {
      context.box = crop_box(source.motion_box, crop, S, m.patch);
      std::copy(context.box.begin(), context.box.end(), b.boxes.data_ptr<float>() + position * 4);
    }
    const ClipMotion motion{&source.motion, entry.grid_h, entry.grid_w, config_.trajectory.cell, crop, S,
                            m.patch,        m.tubelet};
    if (needs_.motion_map) context.motion = &motion;
    if (masks_) {
      std::vector<std::uint8_t> mask(tokens_);
      masks_->generate(context, rng, mask.data());
      bool* mask_out = b.mask.data_ptr<bool>() + static_cast<std::size_t>(position) * tokens_;
      for (int i = 0; i < tokens_; ++i) mask_out[i] = mask[i] != 0;
    }
    b.labels.data_ptr<std::int64_t>()[position] = entry.label;
    std::lock_guard lock(mutex_);
    b.videos[position] = v;
    b.crops[position] = crop;
    b.frame_indices[position] = frames;
    if (attempt > 0) ++b.replaced;
    return;
  }
}

Batch ClipLoader::next() {
  const auto start = std::chrono::steady_clock::now();
  std::unique_lock lock(mutex_);
  done_cv_.wait(lock, [&] {
    if (fatal_) return true;
    auto it = pending_.find(consumed_);
    return it != pending_.end() && it->second->remaining == 0;
  });
  if (fatal_) std::rethrow_exception(fatal_);
  auto node = pending_.extract(consumed_);
  ++consumed_;
  wait_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  lock.unlock();
  work_cv_.notify_all();
  return std::move(node.mapped()->batch);
}

}  // namespace trainer
