// trainer-bench: the trainer's speeds, as Markdown tables (scripts/bench-trainer.sh puts them in
// docs/benchmarks.md).
//   steps   training steps on clips already on the device (ANCHORS.md's definition): forward,
//           targets, backward and AdamW, for each preset x batch asked for
//   loader  clips/s of the loader alone (read, decode, crop, trajectories, mask) per thread count
#include <trainer/clip_loader.h>
#include <trainer/pretrain.h>

#include <mme/cli.h>
#include <mme/host_allocator.h>
#include <mme/log.h>

#include <fmt/format.h>
#ifdef MME_TORCH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include <chrono>
#include <cstdio>
#include <sstream>

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) out.push_back(item);
  return out;
}

void sync(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize();
}

// Peak memory the caching allocator handed out since the last reset (what torch.cuda's
// max_memory_allocated reports); -1 on the CPU.
void reset_peak_memory(const torch::Device& device) {
#ifdef MME_TORCH_CUDA
  if (device.is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(device.index() < 0 ? 0 : device.index());
#else
  (void)device;
#endif
}
double peak_memory_gib(const torch::Device& device) {
#ifdef MME_TORCH_CUDA
  if (device.is_cuda()) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index() < 0 ? 0 : device.index());
    return static_cast<double>(stats.allocated_bytes[0].peak) / (1 << 30);
  }
#else
  (void)device;
#endif
  return -1;
}

// A batch on the device with the shapes of the real one (random frames, uniform trajectories).
trainer::DeviceBatch synthetic_batch(const trainer::TrainConfig& c, const trainer::MaskGenerator& masks,
                                     const torch::Device& device) {
  const long B = c.optim.batch, S = c.model.img_size, g = S / c.trajectory.cell;
  trainer::Batch b;
  b.frames = torch::randint(0, 256, {B, c.model.frames, S, S, 3}, torch::kUInt8);
  b.mask = torch::empty({B, c.tokens()}, torch::kBool);
  const trainer::MaskContext grid{c.tokens_t(), c.tokens_side(), c.tokens_side(), {}, {}};
  std::vector<std::uint8_t> m(c.tokens());
  for (long i = 0; i < B; ++i) {
    auto rng = trainer::Rng::stream(0, 0, i);
    masks.generate(grid, rng, m.data());
    for (int k = 0; k < c.tokens(); ++k) b.mask[i][k] = m[k] != 0;
  }
  b.trajectory = torch::randn({B, c.tokens_t(), g, g, c.trajectory.steps, 2});
  b.valid = torch::ones({B, c.tokens_t(), g, g}, torch::kUInt8);
  return trainer::to_device(b, device);
}

}  // namespace

int main(int argc, char** argv) {
  // Like the trainer, unless --default-allocator (for A/B measurements of the tuning).
  bool default_allocator = false;
  for (int i = 1; i < argc; ++i) default_allocator |= std::string(argv[i]) == "--default-allocator";
  if (!default_allocator) mme::keep_freed_memory();
  CLI::App app{"The trainer's speeds as Markdown tables.", "trainer-bench"};
  std::string what = "steps", presets = "tiny", batches = "8", recipe = "videomae", device_name = "auto",
              workers = "1,2";
  int steps = 10, warmup = 3;
  std::vector<std::string> overrides;
  app.add_option("--what", what, "steps (clips already on the device) or loader")
      ->check(CLI::IsMember({"steps", "loader"}))
      ->capture_default_str();
  app.add_option("--presets", presets, "Model presets, comma-separated")->capture_default_str();
  app.add_option("--batches", batches, "Batch sizes, comma-separated")->capture_default_str();
  app.add_option("--recipe", recipe, "Recipe (its targets, mask and decoder)")->capture_default_str();
  app.add_option("--device", device_name, "auto, cpu or cuda")->capture_default_str();
  app.add_option("--steps", steps, "Timed steps (or batches for the loader)")->capture_default_str();
  app.add_option("--warmup", warmup, "Untimed steps first")->capture_default_str();
  app.add_option("--workers", workers, "Loader thread counts, comma-separated")->capture_default_str();
  app.add_flag("--default-allocator", default_allocator, "Keep glibc's malloc settings (A/B of mme/host_allocator.h)");
  app.add_option("overrides", overrides, "key=value settings (data.flow_dir=... for the loader)");
  mme::cli::setup(app,
                  {{"trainer-bench --presets vit-b --batches 32,64 --device cuda", "ANCHORS.md's measurement"},
                   {"trainer-bench --what loader data.flow_dir=flow data.target_dir=traj recipe=mme", "loader speed"}});
  if (int rc = mme::cli::parse(app, argc, argv); rc >= 0) return rc;
  try {
    const auto device = device_name == "cpu"                                   ? torch::Device(torch::kCPU)
                        : device_name == "cuda" || torch::cuda::is_available() ? torch::Device(torch::kCUDA)
                                                                               : torch::Device(torch::kCPU);
    torch::set_num_threads(trainer::load_config("", overrides).run.threads);  // run.threads=N to change
    if (what == "steps") {
      std::printf(
          "| preset | recipe | batch | device | precision | attention | ms/step | clips/s | peak GPU GiB "
          "|\n|---|---|---|---|---|---|---|---|---|\n");
      for (const auto& preset : split(presets))
        for (const auto& batch : split(batches)) {
          auto o = overrides;
          o.insert(o.begin(), {"model_preset=" + preset, "recipe=" + recipe, "optim.batch=" + batch});
          const auto config = trainer::load_config("", o);
          const auto masks = trainer::make_mask_generator(config.mask);
          auto targets = trainer::make_targets(config);
          std::map<std::string, int> heads;
          for (const auto& [t, w] : targets) heads[t->name()] = t->channels();
          torch::manual_seed(0);
          trainer::MaskedVideoModel model(config.model, heads);
          model->to(device);
          torch::optim::AdamW optimizer(model->parameters(), torch::optim::AdamWOptions(1e-4).betas({0.9, 0.95}));
          const auto input = synthetic_batch(config, *masks, device);
          const bool bf16 = device.is_cuda() && config.run.bf16;
          auto step = [&] {
            optimizer.zero_grad();
            trainer::masked_losses(model, targets, input, bf16).total.backward();
            optimizer.step();
          };
          reset_peak_memory(device);
          for (int i = 0; i < warmup; ++i) step();
          sync(device);
          const auto t0 = Clock::now();
          for (int i = 0; i < steps; ++i) step();
          sync(device);
          const double s = since(t0) / steps;
          const double peak = peak_memory_gib(device);
          std::printf("| %s | %s | %s | %s | %s | %s | %.1f | %.1f | %s |\n", preset.c_str(), recipe.c_str(),
                      batch.c_str(), device.str().c_str(), bf16 ? "bf16 autocast" : "fp32", "scaled_dot_product",
                      1000 * s, config.optim.batch / s, peak >= 0 ? fmt::format("{:.1f}", peak).c_str() : "-");
          std::fflush(stdout);
        }
    } else {
      std::printf("| preset | recipe | input | workers | clips/s |\n|---|---|---|---|---|\n");
      for (const auto& w : split(workers)) {
        auto o = overrides;
        o.insert(o.begin(), {"model_preset=" + presets, "recipe=" + recipe, "data.workers=" + w,
                             "optim.batch=" + split(batches).front()});
        const auto config = trainer::load_config("", o);
        const auto masks = trainer::make_mask_generator(config.mask);
        const auto needs = trainer::needs_of(trainer::make_targets(config));
        trainer::ClipDataset dataset(config, needs | masks->needs());
        trainer::ClipLoader loader(dataset, config, masks.get(), needs, 0, false);
        for (int i = 0; i < warmup; ++i) loader.next();
        const auto t0 = Clock::now();
        for (int i = 0; i < steps; ++i) loader.next();
        const double s = since(t0);
        std::printf("| %s | %s | %dx%dx%d%s | %s | %.1f |\n", presets.c_str(), recipe.c_str(), config.model.frames,
                    config.model.img_size, config.model.img_size, needs.trajectories ? " + trajectories" : "",
                    w.c_str(), steps * config.optim.batch / s);
        std::fflush(stdout);
      }
    }
  } catch (const std::exception& e) {
    mme::log::error("{}", e.what());
    return mme::cli::kFatal;
  }
  return mme::cli::kOk;
}
