#include <trainer/autocast.h>
#include <trainer/checkpoint.h>
#include <trainer/clip_dataset.h>
#include <trainer/clip_geometry.h>
#include <trainer/finetune.h>
#include <trainer/mixup.h>
#include <trainer/mofo_mask.h>
#include <trainer/pretrain.h>
#include <trainer/test_views.h>
#include <trainer/training_loop.h>
#include <trainer/tube_mask.h>
#include <trainer/videomae_io.h>

#include <mme/json_file.h>
#include <mme/atomic_file.h>
#include <mme/cli.h>
#include <mme/error.h>
#include <mme/log.h>
#include <mme/part_store.h>

#include <fmt/format.h>

#include <cmath>

namespace trainer {

namespace fs = std::filesystem;

namespace {

// The classes of a run: finetune.classes, or the largest label + 1. Every video needs a label.
int class_count(const TrainConfig& config, const ClipDataset& dataset) {
  std::int64_t largest = -1;
  for (const auto& v : dataset.videos()) {
    if (v.label < 0)
      throw mme::FileError(v.id,
                           "has no label: give data.list with labels (`path label` per line) or label the "
                           "flowgen list");
    largest = std::max(largest, v.label);
  }
  const int classes = config.finetune.classes > 0 ? config.finetune.classes : static_cast<int>(largest + 1);
  if (largest >= classes)
    throw std::invalid_argument(fmt::format("a label is {} but finetune.classes is {}", largest, classes));
  return classes;
}

}  // namespace

int head_classes(const fs::path& checkpoint) {
  try {
    torch::serialize::InputArchive archive, weights, head;
    archive.load_from(checkpoint.string(), torch::kCPU);
    archive.read("model", weights);
    weights.read("head", head);  // one nested archive per submodule
    torch::Tensor bias;
    head.read("bias", bias);
    return static_cast<int>(bias.size(0));
  } catch (const std::exception&) {
    throw mme::FileError(checkpoint, "has no classification head (head.bias)");
  }
}

InitWeights read_init(const ModelConfig& config, const fs::path& file) {
  nlohmann::json settings;
  bool ours = !fs::is_directory(file);
  if (ours) try {
      settings = checkpoint_settings(file);
    } catch (const mme::FileError&) {
      ours = false;  // not a trainer checkpoint: a PyTorch file
    }
  InitWeights init;
  if (!ours) {
    auto foreign = read_foreign_weights(file);
    init.tensors = std::move(foreign.tensors);
    init.ignored = std::move(foreign.ignored);
    init.pooling = init.tensors.count("mofo.q.weight")    ? "mofo"
                   : init.tensors.count("fc_norm.weight") ? "mean"
                   : init.tensors.count("head.weight")    ? "first"
                                                          : "";
    return init;
  }
  const auto source = TrainConfig::from_json(settings);
  // The usual slip: a probe or fine-tuning run on the default preset of a tiny or ViT-S checkpoint.
  // Only the settings that shape the encoder's weights count (frames and img_size do not: the
  // position embedding is fixed sin-cos).
  auto shape = [](const ModelConfig& m) {
    return nlohmann::json{{"dim", m.dim},     {"depth", m.depth},     {"heads", m.heads},
                          {"patch", m.patch}, {"tubelet", m.tubelet}, {"mlp_ratio", m.mlp_ratio}};
  };
  const auto wanted = shape(source.model), here = shape(config);
  if (wanted != here)
    throw mme::FileError(file,
                         fmt::format("holds an encoder with model settings {} (model_preset {}), this run builds {}: "
                                     "give the same model_preset / model.* settings",
                                     wanted.dump(), source.model_preset, here.dump()));
  std::shared_ptr<torch::nn::Module> trained;
  if (source.mode == "pretrain") {
    trained = make_model(source).ptr();
  } else {
    trained = VideoClassifier(source.model, head_classes(file), source.finetune.pooling).ptr();
    init.pooling = source.finetune.pooling;
  }
  load_weights(file, *trained, torch::kCPU);
  for (const auto& p : trained->named_parameters()) init.tensors[p.key()] = p.value();
  init.source = fmt::format("a {} run's checkpoint", source.mode);
  return init;
}

LoadReport load_init(VideoClassifier& model, const ModelConfig& config, const fs::path& file) {
  const auto init = read_init(config, file);
  auto report = set_weights(*model, init.tensors, file, [](const std::string& name) {
    return name.rfind("encoder.", 0) == 0 && name.rfind("encoder.norm.", 0) != 0;
  });
  report.ignored.insert(report.ignored.begin(), init.ignored.begin(), init.ignored.end());
  mme::log::info("{} ({}): {}", file.string(), init.source, report.summary());
  return report;
}

int finetune(const TrainConfig& config) {
  auto run = start_run(config);
  const auto device = run.device;
  const bool bf16 = config.run.bf16 && device.is_cuda();

  // MOFO pooling reads the motion box; the clips are not masked.
  const ClipNeeds needs{.motion_box = config.finetune.pooling == "mofo"};
  ClipDataset dataset(config, needs);
  if (run.group->is_main()) report_skipped(dataset, config.run.out);
  const int classes = class_count(config, dataset);

  torch::manual_seed(config.run.seed);
  VideoClassifier model(config.model, classes, config.finetune.pooling);
  if (config.finetune.init.empty())
    mme::log::info("finetune.init is not set: the encoder starts from random weights");
  else
    load_init(model, config.model, config.finetune.init);
  const bool probe = config.mode == "probe";
  if (probe) {
    model->frozen_encoder = true;
    for (auto& p : model->encoder->parameters()) p.set_requires_grad(false);
  }
  model->to(device);
  const double decay = probe ? 1.0 : config.finetune.layer_decay;
  auto [groups, scales] = adamw_groups(*model, config.optim, [&](const std::string& name) {
    return std::pow(decay, model->depth + 1 - model->layer_of(name));
  });
  torch::optim::AdamW optimizer(std::move(groups), torch::optim::AdamWOptions(config.lr()));

  const int slices = config.tokens_t(), side = config.tokens_side();
  const auto& f = config.finetune;
  // VideoMAE's regularisation (off for probing by its defaults): augmentations in the loader,
  // Mixup/CutMix per micro-batch and rank, drop path per clip.
  const auto augment = ClipAugment::from(f);
  const Mixup mixup{f.mixup, f.cutmix, f.mixup_prob, f.mixup_switch_prob, f.label_smoothing, classes};
  const int rank = run.group->rank();
  TrainingTask task;
  task.model = model.get();
  task.optimizer = &optimizer;
  task.lr_scale = scales;
  task.augment = augment.get();
  task.step = [&](const Batch& batch) {
    const auto d = to_device(batch, device);
    const auto labels = batch.labels.to(device);
    const auto inside =
        batch.boxes.defined() ? tokens_inside(batch.boxes.to(device), slices, side, side) : torch::Tensor();
    const int clips = static_cast<int>(labels.size(0));
    auto video = d.video;
    torch::Tensor soft;  // Mixup/CutMix's targets
    if (mixup.enabled()) {
      constexpr std::uint64_t kMixupSalt = 0x85ebca6b27d4eb4fULL;
      auto rng = Rng::stream(config.run.seed ^ kMixupSalt, static_cast<std::uint64_t>(batch.index),
                             static_cast<std::uint64_t>(rank));
      auto mixed = mixup.apply(video, labels, rng);
      video = mixed.video;
      soft = mixed.targets;
    }
    const auto drop = f.drop_path > 0 && !probe ? drop_path_scales(clips, config.model.depth, f.drop_path,
                                                                   config.run.seed, batch.index, rank * clips)
                                                      .to(device)
                                                : torch::Tensor();
    torch::Tensor logits;
    {
      Autocast autocast(bf16);
      logits = model->forward(video, inside, drop);
    }
    logits = logits.to(torch::kFloat32);
    Losses losses;
    if (soft.defined())  // timm's SoftTargetCrossEntropy (the smoothing is in the targets)
      losses.total = (-soft * torch::log_softmax(logits, 1)).sum(1).mean();
    else
      losses.total = torch::nn::functional::cross_entropy(
          logits, labels, torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(f.label_smoothing));
    losses.parts["cross_entropy"] = losses.total.detach();
    losses.parts["top1"] = logits.argmax(1).eq(labels).to(torch::kFloat32).mean();
    return losses;
  };
  mme::log::info("{} classes, {} pooling{}", classes, config.finetune.pooling, probe ? ", frozen encoder" : "");
  task.needs = needs;
  return train_loop(config, dataset, nullptr, task, run);
}

nlohmann::json evaluate(const TrainConfig& config) {
  const auto& run = config.run;
  if (run.out.empty()) throw std::invalid_argument("run.out (the finetune or probe run directory) is not set");
  auto joined = join_run(config);
  auto& group = *joined.group;
  const auto device = joined.device;
  // The weights: the run's checkpoint, or finetune.init (a classifier fine-tuned elsewhere, e.g. a
  // VideoMAE or Hugging Face checkpoint, with this command's model settings).
  const bool foreign = !config.finetune.init.empty();
  const auto checkpoint = foreign ? config.finetune.init : run.out / "checkpoint.pt";
  auto settings = config;  // the videos come from this command's data settings
  VideoClassifier model{nullptr};
  int classes = 0;
  if (foreign) {
    const auto init = read_init(config.model, checkpoint);
    if (init.pooling.empty() || !init.tensors.count("head.weight"))
      throw mme::FileError(checkpoint, "holds no classification head (head.weight): eval needs a fine-tuned model");
    classes = static_cast<int>(init.tensors.at("head.weight").size(0));
    settings.finetune.pooling = init.pooling;
    model = VideoClassifier(config.model, classes, init.pooling);
    const auto report = set_weights(*model, init.tensors, checkpoint, [](const std::string&) { return true; });
    mme::log::info("{} ({}): {}", checkpoint.string(), init.source, report.summary());
    std::error_code ec;
    fs::create_directories(run.out, ec);
  } else {
    if (!fs::exists(checkpoint))
      throw mme::FileError(checkpoint,
                           "does not exist: run.out must be the directory of a finetune or probe run (or give "
                           "finetune.init: fine-tuned weights from elsewhere)");
    const auto trained = TrainConfig::from_json(checkpoint_settings(checkpoint));
    if (trained.mode != "finetune" && trained.mode != "probe")
      throw mme::FileError(checkpoint,
                           fmt::format("is a {} checkpoint; eval needs a finetune or probe run", trained.mode));
    // The model from the checkpoint's settings.
    settings.model = trained.model;
    settings.finetune.pooling = trained.finetune.pooling;
    settings.trajectory = trained.trajectory;
    classes = head_classes(checkpoint);
    model = VideoClassifier(trained.model, classes, trained.finetune.pooling);
    load_weights(checkpoint, *model, torch::kCPU);
  }
  const bool mofo = settings.finetune.pooling == "mofo";
  const ClipNeeds needs{.motion_box = mofo};
  ClipDataset dataset(settings, needs);
  model->to(device);
  model->eval();
  torch::NoGradGuard no_grad;

  const int T = config.finetune.test_clips, C = config.finetune.test_crops;
  const int slices = settings.tokens_t(), side = settings.tokens_side();
  std::vector<std::vector<std::int64_t>> confusion(classes, std::vector<std::int64_t>(classes, 0));
  long top1 = 0, top5 = 0, counted = 0;
  // Rank r tests videos r, r + world, ...; the counts are summed over the ranks below.
  const auto& videos = dataset.videos();
  for (std::size_t i = group.rank(); i < videos.size(); i += group.size()) {
    const auto& video = videos[i];
    if (video.label < 0 || video.label >= classes) {
      mme::log::warn("{}: label {} is not one of the {} classes; not counted", video.id, video.label, classes);
      continue;
    }
    const auto [frames, boxes] = test_views(dataset, video, settings, T, C, needs);
    const auto video_in = imagenet_normalise(frames_to_video(frames.to(device)));
    const auto inside = tokens_inside(boxes.to(device), slices, side, side);
    const auto scores = torch::softmax(model->forward(video_in, inside).to(torch::kFloat32), 1).mean(0).cpu();
    const auto predicted = scores.argmax().item<std::int64_t>();
    const auto ranked = std::get<1>(scores.topk(std::min(5, classes)));
    top1 += predicted == video.label;
    top5 += ranked.eq(video.label).any().item<bool>();
    ++confusion[video.label][predicted];
    ++counted;
  }
  {
    // Every rank's counts into one result: [top1, top5, counted, confusion...].
    std::vector<std::int64_t> counts{top1, top5, counted};
    for (const auto& row : confusion) counts.insert(counts.end(), row.begin(), row.end());
    auto t = torch::tensor(counts, torch::kInt64);
    group.allreduce_sum(t, "all-reduce of the evaluation counts");
    const auto* v = t.data_ptr<std::int64_t>();
    top1 = v[0];
    top5 = v[1];
    counted = v[2];
    for (int r = 0; r < classes; ++r)
      for (int c = 0; c < classes; ++c) confusion[r][c] = v[3 + r * classes + c];
  }
  if (counted == 0) throw std::invalid_argument("eval: no labelled video to evaluate");
  nlohmann::json result{{"top1", static_cast<double>(top1) / counted},
                        {"top5", static_cast<double>(top5) / counted},
                        {"videos", counted},
                        {"views_per_video", T * C},
                        {"classes", classes},
                        {"checkpoint", checkpoint.string()}};
  if (!group.is_main()) return nullptr;  // rank 0 writes the files and prints the result
  mme::write_atomically(run.out / "eval.json", mme::dump_json(result, 1) + "\n");
  std::string csv = "true\\predicted";
  for (int c = 0; c < classes; ++c) csv += fmt::format(",{}", c);
  csv += '\n';
  for (int r = 0; r < classes; ++r) {
    csv += std::to_string(r);
    for (int c = 0; c < classes; ++c) csv += fmt::format(",{}", confusion[r][c]);
    csv += '\n';
  }
  mme::write_atomically(run.out / "confusion.csv", csv);
  return result;
}

}  // namespace trainer
