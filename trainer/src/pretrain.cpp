#include <trainer/autocast.h>
#include <trainer/mask_generator.h>
#include <trainer/pretrain.h>
#include <trainer/training_loop.h>

namespace trainer {

Targets make_targets(const TrainConfig& config) {
  Targets targets;
  for (const auto& [name, weight] : config.targets) {
    auto target = make_target(name, config);  // also checks names of zero-weight targets
    if (weight > 0) targets.emplace_back(std::move(target), weight);
  }
  return targets;
}

ClipNeeds needs_of(const Targets& targets) {
  ClipNeeds needs;
  for (const auto& [target, weight] : targets) needs = needs | target->needs();
  return needs;
}

MaskedVideoModel make_model(const TrainConfig& config, const Targets& targets) {
  std::map<std::string, int> heads;
  for (const auto& [target, weight] : targets) heads[target->name()] = target->channels();
  return MaskedVideoModel(config.model, heads);
}

MaskedVideoModel make_model(const TrainConfig& config) {
  return make_model(config, make_targets(config));
}

DeviceBatch to_device(const Batch& batch, const torch::Device& device) {
  DeviceBatch d;
  const bool async = device.is_cuda();
  const auto frames = frames_to_video(batch.frames.to(device, async));
  d.video = imagenet_normalise(frames);
  if (batch.mask.defined()) d.mask = batch.mask.to(device, async);
  d.targets.frames = frames;
  if (batch.trajectory.defined()) {
    d.targets.trajectory = batch.trajectory.to(device, async);
    d.targets.valid = batch.valid.to(device, async);
  }
  return d;
}

Losses masked_losses(MaskedVideoModel& model, const Targets& targets, const DeviceBatch& batch, bool bf16) {
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
  auto run = start_run(config);
  const auto device = run.device;
  const bool bf16 = config.run.bf16 && device.is_cuda();

  const auto targets = make_targets(config);
  const ClipNeeds needs = needs_of(targets);  // the loader adds the mask's
  const auto masks = make_mask_generator(config.mask);
  ClipDataset dataset(config, needs | masks->needs());
  if (run.group->is_main()) report_skipped(dataset, config.run.out);

  torch::manual_seed(config.run.seed);
  auto model = make_model(config, targets);
  model->to(device);
  auto [groups, scales] = adamw_groups(*model, config.optim, nullptr);
  torch::optim::AdamW optimizer(std::move(groups), torch::optim::AdamWOptions(config.lr()));
  TrainingTask task;
  task.model = model.get();
  task.optimizer = &optimizer;
  task.lr_scale = scales;
  task.needs = needs;
  task.step = [&](const Batch& batch) { return masked_losses(model, targets, to_device(batch, device), bf16); };
  return train_loop(config, dataset, masks.get(), task, run);
}

}  // namespace trainer
