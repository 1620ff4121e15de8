#include <trainer/checkpoint.h>
#include <trainer/gradient_reducer.h>
#include <trainer/lr_schedule.h>
#include <trainer/metrics_log.h>
#include <trainer/training_loop.h>

#include <mme/json_file.h>
#include <mme/atomic_file.h>
#include <mme/batch.h>
#include <mme/cli.h>
#include <mme/error.h>
#include <mme/log.h>
#include <mme/part_store.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <optional>

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

torch::Device pick_device(const std::string& name, int local_rank) {
  if (name == "cpu") return torch::kCPU;
  const bool cuda = torch::cuda::is_available();
  if (name == "cuda" && !cuda)
    throw std::invalid_argument("run.device=cuda, but no CUDA device is available to this LibTorch build");
  if (!cuda) return torch::kCPU;
  const auto gpus = static_cast<int>(torch::cuda::device_count());
  if (local_rank >= gpus)
    throw std::invalid_argument(
        fmt::format("local rank {} needs GPU {}, but this node shows {} GPU(s) to it", local_rank, local_rank, gpus));
  return {torch::kCUDA, static_cast<c10::DeviceIndex>(local_rank)};
}

namespace {

// The settings that differ between two identities, as dotted keys: "optim.base_lr 0.0003 here,
// 0.00015 on rank 0".
std::string settings_difference(const std::string& mine, const std::string& theirs) {
  const auto a = mme::parse_json(mine).flatten(), b = mme::parse_json(theirs).flatten();
  std::vector<std::string> lines;
  auto dotted = [](std::string key) {
    std::replace(key.begin(), key.end(), '/', '.');
    return key.substr(1);
  };
  for (const auto& [key, value] : a.items()) {
    const auto it = b.find(key);
    if (it == b.end() || *it != value)
      lines.push_back(
          fmt::format("{} {} here, {} on rank 0", dotted(key), value.dump(), it == b.end() ? "nothing" : it->dump()));
  }
  for (const auto& [key, value] : b.items())
    if (!a.contains(key)) lines.push_back(fmt::format("{} nothing here, {} on rank 0", dotted(key), value.dump()));
  return fmt::format("{}", fmt::join(lines, "; "));
}

}  // namespace

Run join_run(const TrainConfig& config) {
  const auto world = world_from_environment();
  if (world.size != config.world_size)
    throw std::logic_error("join_run: config.world_size is not the environment's world size");
  if (world.rank != 0) {
    mme::log::set_prefix(fmt::format("rank {}: ", world.rank));
    if (mme::log::level() < mme::log::Level::warn) mme::log::set_level(mme::log::Level::warn);
  }
  torch::set_num_threads(config.run.threads);
  Run run;
  run.device = pick_device(config.run.device, world.local_rank);
  const auto timeout = std::chrono::milliseconds(static_cast<long>(config.run.timeout * 1000));
  run.group = std::make_unique<ProcessGroup>(world, run.device, timeout);
  run.group->agree("settings", mme::dump_json(identity(config)), settings_difference);
  if (run.group->active())
    mme::log::info("rank 0 of {} ({}, {} backend, rendezvous at {}:{})", world.size, world.launcher,
                   run.group->backend_name(), world.master_addr, world.master_port);
  return run;
}

Run start_run(const TrainConfig& config) {
  const auto& run = config.run;
  if (run.out.empty()) throw std::invalid_argument("run.out (the run directory) is not set");
  if (config.data.flow_dir.empty()) throw std::invalid_argument("data.flow_dir (flowgen's output) is not set");
  auto joined = join_run(config);
  mme::claim_output_dir(run.out, "config.json", identity(config));  // creates run.out; safe from every rank at once
  // Rank 0 writes run.out (checkpoints, metrics.jsonl): it holds the lock, and every rank hears
  // whether it got it, so that all of them stop when another live run has the directory.
  std::string refused;
  if (joined.group->is_main()) {
    try {
      joined.lock = std::make_unique<mme::DirectoryLock>(run.out, "trainer " + config.mode);
    } catch (const mme::FileError& e) {
      refused = e.reason();
    }
  }
  joined.group->agree("run directory's lock", refused, [&](const std::string&, const std::string& theirs) {
    return run.out.string() + " is " + theirs;
  });
  if (!refused.empty()) throw mme::FileError(run.out, refused);
  return joined;
}

void broadcast_module(torch::nn::Module& module, ProcessGroup& group) {
  if (!group.active()) return;
  torch::NoGradGuard no_grad;
  auto send = [&](torch::Tensor t) {
    auto buffer = t.detach().contiguous();
    group.broadcast(buffer, "broadcast of rank 0's weights");
    if (!buffer.is_same(t)) t.copy_(buffer);
  };
  for (auto& p : module.parameters()) send(p);
  for (auto& b : module.buffers()) send(b);
}

void report_skipped(const ClipDataset& dataset, const fs::path& out) {
  const auto& skipped = dataset.skipped();
  nlohmann::json j = skipped;
  mme::write_atomically(out / "skipped.json", mme::dump_json(j, 1) + "\n");
  if (skipped.empty()) return;
  mme::log::warn("{} video(s) skipped (all listed in {}):", skipped.size(), (out / "skipped.json").string());
  int shown = 0;
  for (const auto& [id, reason] : skipped) {
    if (++shown > 10) break;
    mme::log::warn("  {}: {}", id, reason);
  }
}

namespace {

// One step's numbers, summed over the ranks in one all-reduce: the losses (divided by the world
// afterwards), the clips replaced after read errors, and the stop requests.
struct StepNumbers {
  double total = 0;
  std::map<std::string, double> parts;
  double replaced = 0;
  bool stop = false;

  void reduce(ProcessGroup& group) {
    if (!group.active()) return;
    std::vector<double> values{total, replaced, stop ? 1.0 : 0.0};
    for (const auto& [name, value] : parts) values.push_back(value);
    auto t = torch::tensor(values, torch::kFloat64);
    group.allreduce_sum(t, "all-reduce of the step's losses");
    const auto* v = t.data_ptr<double>();
    const double world = group.size();
    total = v[0] / world;
    replaced = v[1];
    stop = v[2] > 0;
    std::size_t i = 3;
    for (auto& [name, value] : parts) value = v[i++] / world;
  }
};

int loop(const TrainConfig& config, const ClipDataset& dataset, const MaskGenerator* masks, TrainingTask& task,
         Run& run) {
  const auto& settings = config.run;
  auto& model = *task.model;
  auto& optimizer = *task.optimizer;
  auto& group = *run.group;
  const auto& device = run.device;
  const long videos = static_cast<long>(dataset.videos().size());
  const long accumulate = config.optim.accumulate;
  const long per_epoch = steps_per_epoch(videos, config);
  // min_lr is absolute, as in VideoMAE; with small batches it may exceed the peak: then the
  // cosine ends at the peak instead of rising to it.
  LrSchedule schedule{config.lr(), std::min(config.optim.min_lr, config.lr()),
                      static_cast<long>(std::llround(config.optim.warmup_epochs * per_epoch)),
                      std::max(1L, static_cast<long>(std::llround(config.optim.epochs * per_epoch)))};

  const auto checkpoint = settings.out / "checkpoint.pt";
  long step = 0;
  const auto my_identity = mme::dump_json(identity(config));
  if (fs::exists(checkpoint)) {
    const auto state = load_checkpoint(checkpoint, model, optimizer, device);
    if (state.identity != my_identity)
      throw mme::FileError(checkpoint,
                           "was written with other settings than " + (settings.out / "config.json").string());
    step = state.step;
    mme::log::info("{}: resuming at step {}", checkpoint.string(), step);
  }
  // Every rank reads the checkpoint itself: they must all have found the same one.
  group.agree("resume step", std::to_string(step), [&](const std::string& mine, const std::string& theirs) {
    return fmt::format(
        "step {} here (from {}), step {} on rank 0: run.out must be one directory that every rank "
        "sees (a shared filesystem)",
        mine, fs::exists(checkpoint) ? checkpoint.string() : "no checkpoint", theirs);
  });
  broadcast_module(model, group);
  const long last = settings.max_steps > 0 ? std::min(schedule.total_steps, settings.max_steps) : schedule.total_steps;
  mme::log::info("{}: {} videos, {} clips per epoch, {} steps per epoch, steps {}..{} of {} on {}{}{}", config.mode,
                 videos, per_epoch * config.global_batch(), per_epoch, step, last, schedule.total_steps, device.str(),
                 settings.bf16 && device.is_cuda() ? " (bf16 autocast)" : "",
                 group.size() > 1 ? fmt::format(", {} ranks x batch {} x accumulate {}", group.size(),
                                                config.optim.batch, accumulate)
                                  : "");
  // VideoMAE scales base_lr by batch / 256, so a base_lr typed as if it were the lr itself (0.1)
  // lands far above what AdamW trains a ViT with (VideoMAE and MME: 1.5e-4 to 1e-3 after scaling).
  // A linear probe's head takes larger rates, so probing is not warned about.
  constexpr double kHighLr = 5e-3;
  if (config.mode != "probe" && config.lr() > kHighLr)
    mme::log::warn(
        "lr = optim.base_lr {} x global batch {} (optim.batch {} x {} rank(s) x optim.accumulate {}) / 256 = "
        "{:.3g}: high for AdamW on a ViT (VideoMAE: 1.5e-4 to 1e-3 after scaling); lower optim.base_lr if the "
        "loss stalls or diverges",
        config.optim.base_lr, config.global_batch(), config.optim.batch, group.size(), accumulate, config.lr());

  ClipLoader loader(dataset, config, masks, task.needs, step * accumulate, device.is_cuda(), group.rank(),
                    task.augment);
  std::optional<MetricsLog> metrics;
  if (group.is_main()) metrics.emplace(settings.out / "metrics.jsonl", step);
  GradientReducer reducer(group, model.parameters(), static_cast<std::size_t>(settings.bucket_mb * (1 << 20)),
                          settings.overlap);
  mme::StopRequest stop;
  long saved = step;
  auto save = [&] {
    if (group.is_main()) save_checkpoint(checkpoint, model, optimizer, {step, my_identity});
    saved = step;
  };

  model.train();
  while (step < last) {
    group.set_step(step);
    const auto start = std::chrono::steady_clock::now();
    const double wait_before = loader.wait_seconds(), reduce_before = reducer.wait_seconds();
    const double lr = schedule.at(step);
    auto& groups = optimizer.param_groups();
    for (std::size_t g = 0; g < groups.size(); ++g)
      static_cast<torch::optim::AdamWOptions&>(groups[g].options())
          .lr(lr * (g < task.lr_scale.size() ? task.lr_scale[g] : 1.0));
    optimizer.zero_grad();
    StepNumbers numbers;
    for (long micro = 0; micro < accumulate; ++micro) {
      const auto batch = loader.next();
      numbers.replaced += batch.replaced;
      const auto losses = task.step(batch);
      if (micro + 1 == accumulate) reducer.arm();
      (losses.total / static_cast<double>(accumulate)).backward();
      numbers.total += losses.total.item<double>() / accumulate;
      for (const auto& [name, value] : losses.parts) numbers.parts[name] += value.item<double>() / accumulate;
    }
    reducer.finish();
    numbers.stop = stop.requested();
    numbers.reduce(group);
    if (!std::isfinite(numbers.total)) {
      std::string detail;
      for (const auto& [name, value] : numbers.parts) detail += fmt::format(" {}={}", name, value);
      mme::log::error(
          "step {}: the loss is not finite (total={}{}); stopping without updating the weights. The last "
          "good checkpoint (step {}) is kept: {}. Lower optim.base_lr or set optim.clip_grad, then run "
          "again to resume from it.",
          step, numbers.total, detail, saved, fs::exists(checkpoint) ? checkpoint.string() : "none yet");
      return mme::cli::kFatal;
    }
    // The global gradient norm (after averaging over the ranks, before clipping), for the log.
    const double grad_norm =
        config.optim.clip_grad > 0
            ? torch::nn::utils::clip_grad_norm_(model.parameters(), config.optim.clip_grad)
            : torch::nn::utils::clip_grad_norm_(model.parameters(), std::numeric_limits<double>::infinity());
    optimizer.step();
    ++step;

    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (metrics && (step % settings.log_every == 0 || step == last)) {
      nlohmann::json line{{"step", step},
                          {"epoch", static_cast<double>(step) / per_epoch},
                          {"lr", lr},
                          {"loss", numbers.total},
                          {"losses", numbers.parts},
                          {"grad_norm", grad_norm},
                          {"clips_per_s", config.global_batch() / seconds},
                          {"data_wait", (loader.wait_seconds() - wait_before) / seconds},
                          {"allreduce_wait", (reducer.wait_seconds() - reduce_before) / seconds},
                          {"replaced", numbers.replaced}};
      metrics->write(line);
      mme::log::info("step {}/{} loss {:.4f} lr {:.3g} {:.1f} clips/s, {:.0f}% waiting for data{}", step, last,
                     numbers.total, lr, line["clips_per_s"].get<double>(), 100 * line["data_wait"].get<double>(),
                     group.size() > 1
                         ? fmt::format(", {:.0f}% for the all-reduce", 100 * line["allreduce_wait"].get<double>())
                         : "");
    }
    if (step % settings.checkpoint_every == 0 || step == last) save();
    if (numbers.stop) {
      if (saved != step) save();
      group.barrier("barrier after the stop checkpoint");  // no rank leaves before it is written
      mme::log::warn("interrupted at step {}; checkpoint {} written, run again to resume", step, checkpoint.string());
      return mme::cli::kInterrupted;
    }
  }
  if (saved != step) save();
  group.barrier("barrier after the last checkpoint");
  const auto errors = loader.errors();
  mme::log::info("{}: {} steps done (checkpoint {}){}", settings.out.string(), step, checkpoint.string(),
                 errors.empty() ? "" : fmt::format(", {} clip read errors (replaced by other videos)", errors.size()));
  return mme::cli::kOk;
}

}  // namespace

int train_loop(const TrainConfig& config, const ClipDataset& dataset, const MaskGenerator* masks, TrainingTask& task,
               Run& run) {
  try {
    return loop(config, dataset, masks, task, run);
  } catch (const RankFailure&) {
    throw;  // another rank's failure: the others know
  } catch (const std::exception& e) {
    run.group->announce_error(e.what());  // so the other ranks can say why this one stopped
    throw;
  }
}

}  // namespace trainer
