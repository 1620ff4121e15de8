#include <trainer/config.h>
#include <trainer/rand_augment.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <fstream>
#include <stdexcept>

namespace trainer {

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ModelConfig, img_size, frames, tubelet, patch, dim, depth, heads,
                                                decoder_dim, decoder_depth, decoder_heads, mlp_ratio, head)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(DataConfig, flow_dir, target_dir, list, stride, repeats, scales,
                                                max_distort, flip, workers, prefetch)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(MaskConfig, type, ratio, mofo_inside, mgm_jitter)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(TrajectoryConfig, steps, cell, norm)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(FinetuneConfig, init, classes, pooling, layer_decay, label_smoothing,
                                                drop_path, mixup, cutmix, mixup_prob, mixup_switch_prob, rand_augment,
                                                erase, test_clips, test_crops)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(OptimConfig, batch, accumulate, base_lr, min_lr, warmup_epochs, epochs,
                                                weight_decay, beta1, beta2, eps, clip_grad)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(RunConfig, out, seed, device, bf16, threads, max_steps,
                                                checkpoint_every, log_every, timeout, bucket_mb, overlap)

nlohmann::json TrainConfig::to_json() const {
  return {{"mode", mode},
          {"model_preset", model_preset},
          {"recipe", recipe},
          {"model", model},
          {"data", data},
          {"mask", mask},
          {"targets", targets},
          {"trajectory", trajectory},
          {"finetune", finetune},
          {"optim", optim},
          {"run", run}};
}

namespace {

// A whole-number setting given as a JSON float (8.0, 1e3) becomes that integer; one that is not
// whole, or beyond 64 bits, is refused: nlohmann's float -> int conversion of 1e119 (or 2.5) is
// undefined (found by fuzzing config.json). The defaults carry each setting's type.
void whole_numbers(nlohmann::json& given, const nlohmann::json& defaults, const std::string& prefix) {
  if (!given.is_object() || !defaults.is_object()) return;
  for (auto& [key, value] : given.items()) {
    if (!defaults.contains(key)) continue;
    const auto& known = defaults[key];
    const auto path = prefix.empty() ? key : prefix + "." + key;
    if (known.is_object()) {
      whole_numbers(value, known, path);
    } else if (known.is_number_integer() && value.is_number_float()) {
      const double v = value.get<double>();
      if (!(std::abs(v) < 9.2e18) || v != std::floor(v))
        throw std::invalid_argument(fmt::format("setting '{}' must be a whole number, not {}", path, value.dump()));
      value = static_cast<std::int64_t>(v);
    }
  }
}

}  // namespace

TrainConfig TrainConfig::from_json(const nlohmann::json& given) {
  TrainConfig c;
  auto j = given;
  whole_numbers(j, c.to_json(), "");
  try {
    c.mode = j.value("mode", c.mode);
    c.model_preset = j.value("model_preset", c.model_preset);
    c.recipe = j.value("recipe", c.recipe);
    if (j.contains("model")) c.model = j["model"].get<ModelConfig>();
    if (j.contains("data")) c.data = j["data"].get<DataConfig>();
    if (j.contains("mask")) c.mask = j["mask"].get<MaskConfig>();
    if (j.contains("targets")) c.targets = j["targets"].get<std::map<std::string, double>>();
    if (j.contains("trajectory")) c.trajectory = j["trajectory"].get<TrajectoryConfig>();
    if (j.contains("finetune")) c.finetune = j["finetune"].get<FinetuneConfig>();
    if (j.contains("optim")) c.optim = j["optim"].get<OptimConfig>();
    if (j.contains("run")) c.run = j["run"].get<RunConfig>();
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(fmt::format("bad setting value: {}", e.what()));
  }
  return c;
}

void TrainConfig::validate() const {
  auto need = [](bool ok, const std::string& what) {
    if (!ok) throw std::invalid_argument(what);
  };
  const auto& m = model;
  // Every size first (a zero would divide below: found by fuzzing config.json).
  for (const auto& [name, value] : {std::pair<const char*, int>{"img_size", m.img_size},
                                    {"frames", m.frames},
                                    {"tubelet", m.tubelet},
                                    {"patch", m.patch},
                                    {"dim", m.dim},
                                    {"heads", m.heads},
                                    {"decoder_dim", m.decoder_dim},
                                    {"decoder_heads", m.decoder_heads}})
    need(value > 0, fmt::format("model.{} must be > 0, not {}", name, value));
  need(m.mlp_ratio > 0, "model.mlp_ratio must be > 0");
  need(m.patch > 0 && m.img_size % m.patch == 0,
       fmt::format("model.img_size {} must be a multiple of model.patch {}", m.img_size, m.patch));
  need(m.tubelet > 0 && m.frames % m.tubelet == 0,
       fmt::format("model.frames {} must be a multiple of model.tubelet {}", m.frames, m.tubelet));
  need(m.dim % m.heads == 0, fmt::format("model.dim {} must be a multiple of model.heads {}", m.dim, m.heads));
  need(
      m.decoder_dim % m.decoder_heads == 0,
      fmt::format("model.decoder_dim {} must be a multiple of model.decoder_heads {}", m.decoder_dim, m.decoder_heads));
  need(m.depth >= 1 && m.decoder_depth >= 0, "model.depth must be >= 1 and model.decoder_depth >= 0");
  need(m.head == "linear" || m.head == "mlp", fmt::format("model.head '{}' must be linear or mlp", m.head));
  need(data.stride >= 1, "data.stride must be >= 1");
  need(data.repeats >= 1, "data.repeats must be >= 1");
  need(!data.scales.empty(), "data.scales must not be empty");
  for (double s : data.scales) need(s > 0 && s <= 1, fmt::format("data.scales: {} is not in (0, 1]", s));
  need(data.workers >= 1 && data.prefetch >= 1, "data.workers and data.prefetch must be >= 1");
  need(mask.ratio > 0 && mask.ratio < 1, fmt::format("mask.ratio {} must be in (0, 1)", mask.ratio));
  need(mask.mofo_inside > 0 && mask.mofo_inside <= 1,
       fmt::format("mask.mofo_inside {} must be in (0, 1]", mask.mofo_inside));
  need(mask.mgm_jitter >= 0, fmt::format("mask.mgm_jitter {} must be >= 0", mask.mgm_jitter));
  need(trajectory.steps >= 1, "trajectory.steps must be >= 1");
  need(trajectory.cell >= 2 && m.patch % trajectory.cell == 0,
       fmt::format("trajectory.cell {} must divide model.patch {}", trajectory.cell, m.patch));
  need(trajectory.norm == "patch" || trajectory.norm == "raw20" || trajectory.norm == "magnitude",
       fmt::format("trajectory.norm '{}' must be patch, raw20 or magnitude", trajectory.norm));
  need(optim.batch >= 1 && optim.accumulate >= 1, "optim.batch and optim.accumulate must be >= 1");
  need(optim.epochs > 0 && optim.warmup_epochs >= 0, "optim.epochs must be > 0 and optim.warmup_epochs >= 0");
  need(run.device == "auto" || run.device == "cpu" || run.device == "cuda",
       fmt::format("run.device '{}' must be auto, cpu or cuda", run.device));
  need(run.threads >= 1, "run.threads must be >= 1");
  need(mode == "pretrain" || mode == "finetune" || mode == "probe",
       fmt::format("mode '{}' must be pretrain, finetune or probe", mode));
  need(finetune.pooling == "mean" || finetune.pooling == "first" || finetune.pooling == "mofo",
       fmt::format("finetune.pooling '{}' must be mean, first or mofo", finetune.pooling));
  need(finetune.classes >= 0, "finetune.classes must be >= 0 (0: from the labels)");
  need(finetune.layer_decay > 0 && finetune.layer_decay <= 1, "finetune.layer_decay must be in (0, 1]");
  need(finetune.label_smoothing >= 0 && finetune.label_smoothing < 1, "finetune.label_smoothing must be in [0, 1)");
  need(finetune.drop_path >= 0 && finetune.drop_path < 1, "finetune.drop_path must be in [0, 1)");
  need(finetune.mixup >= 0 && finetune.cutmix >= 0,
       "finetune.mixup and finetune.cutmix (Beta parameters) must be >= 0");
  need(finetune.mixup_prob >= 0 && finetune.mixup_prob <= 1 && finetune.mixup_switch_prob >= 0 &&
           finetune.mixup_switch_prob <= 1,
       "finetune.mixup_prob and finetune.mixup_switch_prob must be in [0, 1]");
  need(finetune.erase >= 0 && finetune.erase <= 1, "finetune.erase must be in [0, 1]");
  if (!finetune.rand_augment.empty()) try {
      RandAugment check(finetune.rand_augment);
    } catch (const std::invalid_argument& e) {
      need(false, fmt::format("finetune.rand_augment: {}", e.what()));
    }
  need(finetune.test_clips >= 1 && finetune.test_crops >= 1, "finetune.test_clips and test_crops must be >= 1");
  need(run.checkpoint_every >= 1 && run.log_every >= 1, "run.checkpoint_every and run.log_every must be >= 1");
  need(run.timeout > 0, "run.timeout (seconds) must be > 0");
  need(run.bucket_mb > 0, "run.bucket_mb must be > 0");
  bool any = false;
  for (const auto& [name, weight] : targets) {
    need(weight >= 0, fmt::format("targets.{} weight {} must be >= 0", name, weight));
    any = any || weight > 0;
  }
  need(any, "no target has a weight > 0 (set e.g. targets.pixel=1)");
}

std::vector<std::string> model_presets() {
  return {"tiny", "vit-s", "vit-b"};
}
std::vector<std::string> recipes() {
  return {"videomae", "mme"};
}

namespace {

nlohmann::json model_preset_json(const std::string& name) {
  // VideoMAE's shapes; "tiny" is for CPU tests and the demo.
  if (name == "tiny")
    return {{"img_size", 64},    {"dim", 64},          {"depth", 2},        {"heads", 2},
            {"decoder_dim", 64}, {"decoder_depth", 1}, {"decoder_heads", 2}};
  if (name == "vit-s")
    return {{"dim", 384},         {"depth", 12},        {"heads", 6},
            {"decoder_dim", 192}, {"decoder_depth", 4}, {"decoder_heads", 3}};
  if (name == "vit-b")
    return {{"dim", 768},         {"depth", 12},        {"heads", 12},
            {"decoder_dim", 384}, {"decoder_depth", 4}, {"decoder_heads", 6}};
  throw std::invalid_argument(
      fmt::format("unknown model preset '{}' (known: {})", name, fmt::join(model_presets(), ", ")));
}

nlohmann::json recipe_json(const std::string& name, const nlohmann::json& model) {
  if (name == "videomae")  // tube 0.9, normalised pixels, linear head
    return {
        {"mask", {{"type", "tube"}, {"ratio", 0.9}}}, {"targets", {{"pixel", 1.0}}}, {"model", {{"head", "linear"}}}};
  if (name == "mme") {
    // Public MME recipe: tube 0.7, trajectory + HOG, MLP heads, a 1-block decoder at most 192 wide.
    const int width = std::min(model.value("decoder_dim", 384), 192);
    return {{"mask", {{"type", "tube"}, {"ratio", 0.7}}},
            {"targets", {{"pixel", 0.0}, {"trajectory", 1.0}, {"hog", 1.0}}},
            {"model",
             {{"head", "mlp"},
              {"decoder_depth", 1},
              {"decoder_dim", width},
              {"decoder_heads", width / 64 > 0 ? width / 64 : model.value("decoder_heads", 1)}}}};
  }
  throw std::invalid_argument(fmt::format("unknown recipe '{}' (known: {})", name, fmt::join(recipes(), ", ")));
}

// Every key of `given` must exist in `known` (targets are free-form: the registry checks them).
void check_keys(const nlohmann::json& given, const nlohmann::json& known, const std::string& prefix) {
  for (const auto& [key, value] : given.items()) {
    const auto path = prefix.empty() ? key : prefix + "." + key;
    if (!known.contains(key)) {
      std::vector<std::string> names;
      for (const auto& [k, v] : known.items()) names.push_back(prefix.empty() ? k : prefix + "." + k);
      throw std::invalid_argument(fmt::format("unknown setting '{}' (known here: {})", path, fmt::join(names, ", ")));
    }
    if (path != "targets" && value.is_object() && known[key].is_object()) check_keys(value, known[key], path);
  }
}

nlohmann::json parse_value(const std::string& text) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception&) {
    return text;  // a bare string such as a path
  }
}

nlohmann::json overrides_json(const std::vector<std::string>& overrides) {
  nlohmann::json patch = nlohmann::json::object();
  for (const auto& o : overrides) {
    const auto eq = o.find('=');
    if (eq == std::string::npos || eq == 0)
      throw std::invalid_argument(fmt::format("override '{}' is not key=value (e.g. optim.batch=64)", o));
    const auto key = o.substr(0, eq);
    nlohmann::json* node = &patch;
    std::size_t begin = 0;
    for (;;) {
      const auto dot = key.find('.', begin);
      const auto part = key.substr(begin, dot == std::string::npos ? std::string::npos : dot - begin);
      if (part.empty()) throw std::invalid_argument(fmt::format("override '{}': empty key part", o));
      if (dot == std::string::npos) {
        (*node)[part] = parse_value(o.substr(eq + 1));
        break;
      }
      node = &(*node)[part];
      if (!node->is_object()) *node = nlohmann::json::object();
      begin = dot + 1;
    }
  }
  return patch;
}

}  // namespace

namespace {

nlohmann::json mode_json(const std::string& mode) {
  // VideoMAE's fine-tuning recipe (run_class_finetuning.py with its ViT-B scripts' values). Its lr
  // 5e-4 (min 1e-6) is per 256 videos of 2 clips each (num_sample 2); here the lr follows the clips
  // (docs/usage.md). AdamW's betas are (0.9, 0.999) there, not pretraining's (0.9, 0.95).
  if (mode == "finetune")
    return {{"mode", mode},
            {"optim", {{"base_lr", 2.5e-4}, {"min_lr", 5e-7}, {"epochs", 75}, {"warmup_epochs", 5}, {"beta2", 0.999}}},
            {"finetune",
             {{"drop_path", 0.1},
              {"mixup", 0.8},
              {"cutmix", 1.0},
              {"mixup_prob", 1.0},
              {"mixup_switch_prob", 0.5},
              {"rand_augment", "rand-m7-n4-mstd0.5-inc1"},
              {"erase", 0.25}}},
            {"data", {{"flip", true}, {"repeats", 2}}}};
  if (mode == "probe")  // a linear head on frozen features
    return {
        {"mode", mode},
        {"optim", {{"base_lr", 1e-2}, {"min_lr", 0.0}, {"epochs", 90}, {"warmup_epochs", 10}, {"weight_decay", 0.0}}},
        {"data", {{"flip", true}}}};
  return {{"mode", mode}};
}

}  // namespace

TrainConfig load_config(const std::filesystem::path& file, const std::vector<std::string>& overrides,
                        const std::string& mode) {
  nlohmann::json user = nlohmann::json::object();
  if (!file.empty()) {
    std::ifstream in(file);
    if (!in) throw std::invalid_argument(fmt::format("{}: cannot open the config file", file.string()));
    try {
      user = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      throw std::invalid_argument(fmt::format("{}: not valid JSON: {}", file.string(), e.what()));
    }
    if (!user.is_object()) throw std::invalid_argument(fmt::format("{}: must hold a JSON object", file.string()));
  }
  user.merge_patch(overrides_json(overrides));
  const auto defaults = TrainConfig{}.to_json();
  check_keys(user, defaults, "");

  auto merged = defaults;
  const auto preset = user.value("model_preset", std::string(defaults["model_preset"]));
  const auto recipe = user.value("recipe", std::string(defaults["recipe"]));
  merged["model"].merge_patch(model_preset_json(preset));
  merged.merge_patch(recipe_json(recipe, merged["model"]));
  merged.merge_patch(mode_json(mode));
  merged.merge_patch(user);
  merged["mode"] = mode;  // the subcommand decides
  auto config = TrainConfig::from_json(merged);
  config.validate();
  return config;
}

nlohmann::json identity(const TrainConfig& config) {
  auto j = config.to_json();
  for (const char* key :
       {"max_steps", "checkpoint_every", "log_every", "threads", "out", "timeout", "bucket_mb", "overlap"})
    j["run"].erase(key);
  for (const char* key : {"workers", "prefetch"}) j["data"].erase(key);
  for (const char* key : {"batch", "accumulate"}) j["optim"].erase(key);
  j["optim"]["global_batch"] = config.global_batch();
  return j;
}

}  // namespace trainer
