#include <trainer/checkpoint.h>
#include <trainer/lr_schedule.h>
#include <trainer/mask_generator.h>
#include <trainer/metrics_log.h>
#include <trainer/pretrain.h>

#include <mme/batch.h>
#include <mme/cli.h>
#include <mme/error.h>
#include <mme/log.h>
#include <mme/part_store.h>

#include <ATen/autocast_mode.h>
#include <fmt/format.h>
#include <torch/version.h>

#include <chrono>
#include <cmath>
#include <fstream>

namespace trainer {

namespace fs = std::filesystem;

namespace {

// bf16 autocast on CUDA for the scope (LibTorch 2.x and 1.13 name the switches differently).
class Autocast {
 public:
  explicit Autocast(bool on) : on_(on) {
    if (!on_) return;
#if TORCH_VERSION_MAJOR >= 2
    at::autocast::set_autocast_enabled(at::kCUDA, true);
    at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
#else
    at::autocast::set_enabled(true);
    at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
#endif
    at::autocast::increment_nesting();
  }
  ~Autocast() {
    if (!on_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
#if TORCH_VERSION_MAJOR >= 2
    at::autocast::set_autocast_enabled(at::kCUDA, false);
#else
    at::autocast::set_enabled(false);
#endif
  }
  Autocast(const Autocast&) = delete;
  Autocast& operator=(const Autocast&) = delete;

 private:
  bool on_;
};

// VideoMAE's no-weight-decay set: biases, norms (1-D) and the mask token.
std::vector<torch::optim::OptimizerParamGroup> param_groups(torch::nn::Module& model, const OptimConfig& o) {
  std::vector<torch::Tensor> decay, no_decay;
  for (const auto& p : model.named_parameters()) {
    const bool skip = p.value().dim() <= 1 || p.key().find("mask_token") != std::string::npos;
    (skip ? no_decay : decay).push_back(p.value());
  }
  auto options = [&](double wd) {
    return std::make_unique<torch::optim::AdamWOptions>(
        torch::optim::AdamWOptions(0).betas({o.beta1, o.beta2}).eps(o.eps).weight_decay(wd));
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, options(o.weight_decay));
  groups.emplace_back(no_decay, options(0.0));
  return groups;
}

torch::Device pick_device(const std::string& name) {
  if (name == "cpu") return torch::kCPU;
  if (name == "cuda") {
    if (!torch::cuda::is_available())
      throw std::invalid_argument("run.device=cuda, but no CUDA device is available to this LibTorch build");
    return torch::kCUDA;
  }
  return torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
}

void report_skipped(const ClipDataset& dataset, const fs::path& out) {
  const auto& skipped = dataset.skipped();
  nlohmann::json j = skipped;
  std::ofstream(out / "skipped.json") << j.dump(1) << '\n';
  if (skipped.empty()) return;
  mme::log::warn("{} video(s) skipped (all listed in {}):", skipped.size(), (out / "skipped.json").string());
  int shown = 0;
  for (const auto& [id, reason] : skipped) {
    if (++shown > 10) break;
    mme::log::warn("  {}: {}", id, reason);
  }
}

}  // namespace

std::vector<std::pair<std::unique_ptr<Target>, double>> make_targets(const TrainConfig& config) {
  std::vector<std::pair<std::unique_ptr<Target>, double>> targets;
  for (const auto& [name, weight] : config.targets) {
    auto target = make_target(name, config);  // also checks names of zero-weight targets
    if (weight > 0) targets.emplace_back(std::move(target), weight);
  }
  return targets;
}

MaskedVideoModel make_model(const TrainConfig& config) {
  std::map<std::string, int> heads;
  for (const auto& [target, weight] : make_targets(config)) heads[target->name()] = target->channels();
  return MaskedVideoModel(config.model, heads);
}

DeviceBatch to_device(const Batch& batch, const torch::Device& device) {
  DeviceBatch d;
  const bool async = device.is_cuda();
  const auto frames = frames_to_video(batch.frames.to(device, async));
  d.video = imagenet_normalise(frames);
  d.mask = batch.mask.to(device, async);
  d.targets.frames = frames;
  if (batch.trajectory.defined()) {
    d.targets.trajectory = batch.trajectory.to(device, async);
    d.targets.valid = batch.valid.to(device, async);
  }
  return d;
}

Losses masked_losses(MaskedVideoModel& model, const std::vector<std::pair<std::unique_ptr<Target>, double>>& targets,
                     const DeviceBatch& batch, bool bf16) {
  std::map<std::string, torch::Tensor> predictions;
  {
    Autocast autocast(bf16);
    predictions = model->forward(batch.video, batch.mask);
  }
  Losses losses;
  const auto B = batch.mask.size(0);
  for (const auto& [target, weight] : targets) {
    torch::Tensor truth, token_weight;
    {
      torch::NoGradGuard no_grad;
      const auto all = target->compute(batch.targets);
      truth = all.index({batch.mask}).reshape({B, -1, all.size(2)});
      const auto w = target->weight(batch.targets);
      if (w.defined()) token_weight = w.index({batch.mask}).reshape({B, -1});
    }
    const auto prediction = predictions.at(target->name()).to(torch::kFloat32);
    auto error = (prediction - truth).pow(2).mean(-1);  // [B, masked]
    if (token_weight.defined()) error = error * token_weight;
    const auto loss = error.sum() / static_cast<double>(error.numel());
    losses.parts[target->name()] = loss;
    losses.total = losses.total.defined() ? losses.total + weight * loss : weight * loss;
  }
  return losses;
}

int pretrain(const TrainConfig& config) {
  const auto& run = config.run;
  if (run.out.empty()) throw std::invalid_argument("run.out (the run directory) is not set");
  if (config.data.flow_dir.empty()) throw std::invalid_argument("data.flow_dir (flowgen's output) is not set");
  torch::set_num_threads(run.threads);
  const auto device = pick_device(run.device);
  const bool bf16 = run.bf16 && device.is_cuda();
  fs::create_directories(run.out);
  mme::claim_output_dir(run.out, "config.json", identity(config));

  auto targets = make_targets(config);
  bool need_trajectories = false;
  for (const auto& [target, weight] : targets) need_trajectories = need_trajectories || target->needs_trajectories();
  const auto masks = make_mask_generator(config.mask);
  ClipDataset dataset(config, need_trajectories || masks->needs_motion());
  report_skipped(dataset, run.out);

  torch::manual_seed(run.seed);
  auto model = make_model(config);
  model->to(device);
  torch::optim::AdamW optimizer(param_groups(*model, config.optim), torch::optim::AdamWOptions(config.lr()));

  const long videos = static_cast<long>(dataset.videos().size());
  const long batches_per_epoch = videos * config.data.repeats / config.optim.batch;
  const long accumulate = config.optim.accumulate;
  const long steps_per_epoch = std::max(1L, batches_per_epoch / accumulate);
  // min_lr is absolute, as in VideoMAE; with small batches it may exceed the peak: then the
  // cosine ends at the peak instead of rising to it.
  LrSchedule schedule{config.lr(), std::min(config.optim.min_lr, config.lr()),
                      static_cast<long>(std::llround(config.optim.warmup_epochs * steps_per_epoch)),
                      std::max(1L, static_cast<long>(std::llround(config.optim.epochs * steps_per_epoch)))};

  const auto checkpoint = run.out / "checkpoint.pt";
  long step = 0;
  const auto my_identity = identity(config).dump();
  if (fs::exists(checkpoint)) {
    const auto state = load_checkpoint(checkpoint, *model, optimizer, device);
    if (state.identity != my_identity)
      throw mme::FileError(checkpoint, "was written with other settings than " + (run.out / "config.json").string());
    step = state.step;
    mme::log::info("{}: resuming at step {}", checkpoint.string(), step);
  }
  const long last = run.max_steps > 0 ? std::min(schedule.total_steps, run.max_steps) : schedule.total_steps;
  mme::log::info("{} videos, {} clips per epoch, {} steps per epoch, steps {}..{} of {} on {}{}", videos,
                 batches_per_epoch * config.optim.batch, steps_per_epoch, step, last, schedule.total_steps,
                 device.str(), bf16 ? " (bf16 autocast)" : "");

  ClipLoader loader(dataset, config, *masks, need_trajectories, step * accumulate, device.is_cuda());
  MetricsLog metrics(run.out / "metrics.jsonl", step);
  mme::StopRequest stop;
  long saved = step;
  auto save = [&] {
    save_checkpoint(checkpoint, *model, optimizer, {step, my_identity});
    saved = step;
  };

  model->train();
  while (step < last) {
    const auto start = std::chrono::steady_clock::now();
    const double wait_before = loader.wait_seconds();
    const double lr = schedule.at(step);
    for (auto& group : optimizer.param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
    optimizer.zero_grad();
    std::map<std::string, double> parts;
    double total = 0;
    int replaced = 0;
    for (long micro = 0; micro < accumulate; ++micro) {
      const auto batch = loader.next();
      replaced += batch.replaced;
      const auto losses = masked_losses(model, targets, to_device(batch, device), bf16);
      (losses.total / static_cast<double>(accumulate)).backward();
      total += losses.total.item<double>() / accumulate;
      for (const auto& [name, value] : losses.parts) parts[name] += value.item<double>() / accumulate;
    }
    if (!std::isfinite(total)) {
      std::string detail;
      for (const auto& [name, value] : parts) detail += fmt::format(" {}={}", name, value);
      mme::log::error(
          "step {}: the loss is not finite (total={}{}); stopping without updating the weights. The last "
          "good checkpoint (step {}) is kept: {}. Lower optim.base_lr or set optim.clip_grad, then run "
          "again to resume from it.",
          step, total, detail, saved, fs::exists(checkpoint) ? checkpoint.string() : "none yet");
      return mme::cli::kFatal;
    }
    if (config.optim.clip_grad > 0) torch::nn::utils::clip_grad_norm_(model->parameters(), config.optim.clip_grad);
    optimizer.step();
    ++step;

    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (step % run.log_every == 0 || step == last) {
      nlohmann::json line{{"step", step},
                          {"epoch", static_cast<double>(step) / steps_per_epoch},
                          {"lr", lr},
                          {"loss", total},
                          {"losses", parts},
                          {"clips_per_s", config.optim.batch * accumulate / seconds},
                          {"data_wait", (loader.wait_seconds() - wait_before) / seconds},
                          {"replaced", replaced}};
      metrics.write(line);
      mme::log::info("step {}/{} loss {:.4f} lr {:.3g} {:.1f} clips/s, {:.0f}% waiting for data", step, last, total, lr,
                     line["clips_per_s"].get<double>(), 100 * line["data_wait"].get<double>());
    }
    if (step % run.checkpoint_every == 0 || step == last) save();
    if (stop.requested()) {
      if (saved != step) save();
      mme::log::warn("interrupted at step {}; checkpoint {} written, run again to resume", step, checkpoint.string());
      return mme::cli::kInterrupted;
    }
  }
  if (saved != step) save();
  const auto errors = loader.errors();
  mme::log::info("{}: {} steps done (checkpoint {}){}", run.out.string(), step, checkpoint.string(),
                 errors.empty() ? "" : fmt::format(", {} clip read errors (replaced by other videos)", errors.size()));
  return mme::cli::kOk;
}

}  // namespace trainer
