#include <trainer/checkpoint.h>
#include <trainer/lr_schedule.h>
#include <trainer/metrics_log.h>
#include <trainer/training_loop.h>

#include <mme/atomic_file.h>
#include <mme/batch.h>
#include <mme/cli.h>
#include <mme/error.h>
#include <mme/log.h>
#include <mme/part_store.h>

#include <fmt/format.h>

#include <chrono>
#include <cmath>

namespace trainer {

namespace fs = std::filesystem;

std::pair<std::vector<torch::optim::OptimizerParamGroup>, std::vector<double>> adamw_groups(
    torch::nn::Module& model, const OptimConfig& o, const std::function<double(const std::string&)>& scale) {
  // One group per (lr scale, decay or not), in first-seen order.
  std::vector<std::pair<std::pair<double, bool>, std::vector<torch::Tensor>>> buckets;
  for (const auto& p : model.named_parameters()) {
    if (!p.value().requires_grad()) continue;
    const bool decay = p.value().dim() > 1 && p.key().find("mask_token") == std::string::npos;
    const double s = scale ? scale(p.key()) : 1.0;
    auto it = std::find_if(buckets.begin(), buckets.end(),
                           [&](const auto& b) { return b.first == std::make_pair(s, decay); });
    if (it == buckets.end()) it = buckets.insert(buckets.end(), {{s, decay}, {}});
    it->second.push_back(p.value());
  }
  std::vector<torch::optim::OptimizerParamGroup> groups;
  std::vector<double> scales;
  for (auto& [key, params] : buckets) {
    auto options = std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(0)
                                                                    .betas({o.beta1, o.beta2})
                                                                    .eps(o.eps)
                                                                    .weight_decay(key.second ? o.weight_decay : 0.0));
    groups.emplace_back(std::move(params), std::move(options));
    scales.push_back(key.first);
  }
  return {std::move(groups), std::move(scales)};
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

torch::Device start_run(const TrainConfig& config) {
  const auto& run = config.run;
  if (run.out.empty()) throw std::invalid_argument("run.out (the run directory) is not set");
  if (config.data.flow_dir.empty()) throw std::invalid_argument("data.flow_dir (flowgen's output) is not set");
  torch::set_num_threads(run.threads);
  const auto device = pick_device(run.device);
  fs::create_directories(run.out);
  mme::claim_output_dir(run.out, "config.json", identity(config));
  return device;
}

void report_skipped(const ClipDataset& dataset, const fs::path& out) {
  const auto& skipped = dataset.skipped();
  nlohmann::json j = skipped;
  mme::write_atomically(out / "skipped.json", j.dump(1) + "\n");
  if (skipped.empty()) return;
  mme::log::warn("{} video(s) skipped (all listed in {}):", skipped.size(), (out / "skipped.json").string());
  int shown = 0;
  for (const auto& [id, reason] : skipped) {
    if (++shown > 10) break;
    mme::log::warn("  {}: {}", id, reason);
  }
}

int train_loop(const TrainConfig& config, const ClipDataset& dataset, const MaskGenerator& masks, TrainingTask& task,
               const torch::Device& device) {
  const auto& run = config.run;
  auto& model = *task.model;
  auto& optimizer = *task.optimizer;
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
    const auto state = load_checkpoint(checkpoint, model, optimizer, device);
    if (state.identity != my_identity)
      throw mme::FileError(checkpoint, "was written with other settings than " + (run.out / "config.json").string());
    step = state.step;
    mme::log::info("{}: resuming at step {}", checkpoint.string(), step);
  }
  const long last = run.max_steps > 0 ? std::min(schedule.total_steps, run.max_steps) : schedule.total_steps;
  mme::log::info("{}: {} videos, {} clips per epoch, {} steps per epoch, steps {}..{} of {} on {}{}", config.mode,
                 videos, batches_per_epoch * config.optim.batch, steps_per_epoch, step, last, schedule.total_steps,
                 device.str(), run.bf16 && device.is_cuda() ? " (bf16 autocast)" : "");
  // VideoMAE scales base_lr by batch / 256, so a base_lr typed as if it were the lr itself (0.1)
  // lands far above what AdamW trains a ViT with (VideoMAE and MME: 1.5e-4 to 1e-3 after scaling).
  // A linear probe's head takes larger rates, so probing is not warned about.
  if (config.mode != "probe" && config.lr() > 5e-3)
    mme::log::warn(
        "lr = optim.base_lr {} x batch {} x accumulate {} / 256 = {:.3g}: high for AdamW on a ViT "
        "(VideoMAE: 1.5e-4 to 1e-3 after scaling); lower optim.base_lr if the loss stalls or diverges",
        config.optim.base_lr, config.optim.batch, config.optim.accumulate, config.lr());

  ClipLoader loader(dataset, config, masks, task.trajectories, step * accumulate, device.is_cuda());
  MetricsLog metrics(run.out / "metrics.jsonl", step);
  mme::StopRequest stop;
  long saved = step;
  auto save = [&] {
    save_checkpoint(checkpoint, model, optimizer, {step, my_identity});
    saved = step;
  };

  model.train();
  while (step < last) {
    const auto start = std::chrono::steady_clock::now();
    const double wait_before = loader.wait_seconds();
    const double lr = schedule.at(step);
    auto& groups = optimizer.param_groups();
    for (std::size_t g = 0; g < groups.size(); ++g)
      static_cast<torch::optim::AdamWOptions&>(groups[g].options())
          .lr(lr * (g < task.lr_scale.size() ? task.lr_scale[g] : 1.0));
    optimizer.zero_grad();
    std::map<std::string, double> parts;
    double total = 0;
    int replaced = 0;
    for (long micro = 0; micro < accumulate; ++micro) {
      const auto batch = loader.next();
      replaced += batch.replaced;
      const auto losses = task.step(batch);
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
    if (config.optim.clip_grad > 0) torch::nn::utils::clip_grad_norm_(model.parameters(), config.optim.clip_grad);
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
