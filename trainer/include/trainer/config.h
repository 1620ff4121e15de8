#pragma once
// Every setting of a training run, with the published recipes as defaults (docs/method.md sections 1, 2
// and 5). A run's settings are layered, later layers winning:
//   defaults  <-  model preset ("tiny", "vit-s", "vit-b")  <-  recipe ("videomae", "mme")
//             <-  the --config JSON file  <-  key=value overrides on the command line
// Keys are dotted paths into the JSON form (`optim.base_lr=3e-4`, `targets.hog=0.5`); an unknown
// key is an error that lists the known ones.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace trainer {

struct ModelConfig {
  int img_size = 224;  // input frames are img_size x img_size
  int frames = 16;     // frames per clip
  int tubelet = 2;     // tube = tubelet x patch x patch pixels
  int patch = 16;
  int dim = 768, depth = 12, heads = 12;  // encoder (ViT-B)
  int decoder_dim = 384, decoder_depth = 4, decoder_heads = 6;
  double mlp_ratio = 4.0;
  // "linear" (VideoMAE: one Linear per target) or "mlp" (MME: Linear(d,512)-GELU-Linear(512,C)).
  std::string head = "linear";

  // The token grid: (time slices, rows, columns) of tubes.
  int tokens_t() const { return frames / tubelet; }
  int tokens_side() const { return img_size / patch; }
  int tokens() const { return tokens_t() * tokens_side() * tokens_side(); }
};

struct DataConfig {
  std::filesystem::path flow_dir;                      // flowgen output: JPEG frames
  std::filesystem::path target_dir;                    // trajgen output: trajectories, boxes, motion maps
  std::filesystem::path list;                          // optional dataset list: restricts the videos, gives labels
  int stride = 4;                                      // native frames between sampled frames (K400 4, SSv2 2)
  int repeats = 1;                                     // clips per loaded video (repeated sampling)
  std::vector<double> scales{1.0, 0.875, 0.75, 0.66};  // VideoMAE's GroupMultiScaleCrop
  int max_distort = 1;                                 // GroupMultiScaleCrop: |scale index of w - of h| <= this
  bool flip = false;                                   // horizontal flip (off in pretraining, as in MME)
  int workers = 2;                                     // loader threads
  int prefetch = 4;                                    // batches decoded ahead
};

struct MaskConfig {
  std::string type = "tube";  // a name in the mask registry: tube, random, mofo, mgm
  double ratio = 0.9;
  double mofo_inside = 0.75;  // MOFO: share of the box's positions masked (k = min(n, floor(share x inside)))
  double mgm_jitter = 0.1;    // MGM: random tie-break, as a share of the clip's largest motion
};

struct TrajectoryConfig {
  int steps = 4;               // L: native steps per trajectory (must match the target shards)
  int cell = 8;                // seed spacing in pixels (must match the target shards)
  std::string norm = "patch";  // "patch" (per-token standardisation), "raw20", "magnitude"
};

// Supervised runs: `trainer finetune`, `trainer probe` (frozen encoder, linear head), `trainer eval`.
struct FinetuneConfig {
  // Weights to start from: a trainer checkpoint of any mode, a PyTorch file or a Hugging Face
  // directory (videomae_io.h). Empty: from scratch.
  std::filesystem::path init;
  int classes = 0;  // 0: the largest label + 1
  // "mean" (VideoMAE's default), "first" (VideoMAE's use_mean_pooling=False: final norm, first
  // token) or "mofo" (inside-box tokens query the rest); classifier.h.
  std::string pooling = "mean";
  double layer_decay = 0.75;  // lr x layer_decay^(depth + 1 - layer) (fine-tuning only)
  double label_smoothing = 0.1;
  // VideoMAE's fine-tuning regularisation (docs/usage.md; `trainer finetune` sets the published
  // values, these defaults are off): stochastic depth rising linearly to drop_path over the blocks;
  // Mixup/CutMix (mixup.h); RandAugment (rand_augment.h, "" = off); random erasing's probability
  // (random_erasing.h).
  double drop_path = 0;
  double mixup = 0, cutmix = 0;  // Beta parameters (0 = off)
  double mixup_prob = 1.0, mixup_switch_prob = 0.5;
  std::string rand_augment;
  double erase = 0;
  int test_clips = 2;  // eval: temporal views per video (VideoMAE: 5 on K400, 2 on SSv2)
  int test_crops = 3;  // eval: spatial views (along the long side)
};

struct OptimConfig {
  int batch = 32;           // clips per rank and micro-batch
  int accumulate = 1;       // micro-batches per optimiser step
  double base_lr = 1.5e-4;  // lr = base_lr x global batch / 256 (global batch: batch x ranks x accumulate)
  double min_lr = 1e-5;     // end of the cosine
  double warmup_epochs = 40;
  double epochs = 800;
  double weight_decay = 0.05;  // not on biases, norms, position tables or mask tokens
  double beta1 = 0.9, beta2 = 0.95, eps = 1e-8;
  double clip_grad = 0;  // max global grad norm; 0 = off
};

struct RunConfig {
  std::filesystem::path out;  // run directory: config.json, checkpoint.pt, metrics.jsonl
  std::uint64_t seed = 0;
  std::string device = "auto";  // "auto" (CUDA when present), "cpu", "cuda"
  bool bf16 = true;             // bf16 autocast on CUDA
  int threads = 1;              // torch intra-op threads on CPU
  long max_steps = 0;           // stop after this many optimiser steps (0: the whole schedule)
  long checkpoint_every = 100;
  long log_every = 1;
  // Data-parallel runs (several ranks): how long the rendezvous or a collective may wait for the
  // other ranks before the run stops naming the rank that is missing; the all-reduce buckets' size
  // and whether they overlap backward (gradient_reducer.h).
  double timeout = 300;
  double bucket_mb = 25;
  bool overlap = true;
};

struct TrainConfig {
  std::string mode = "pretrain";  // pretrain, finetune, probe (set by the subcommand)
  std::string model_preset = "vit-b";
  std::string recipe = "videomae";
  ModelConfig model;
  DataConfig data;
  MaskConfig mask;
  std::map<std::string, double> targets{{"pixel", 1.0}};  // target name -> loss weight
  TrajectoryConfig trajectory;
  FinetuneConfig finetune;
  OptimConfig optim;
  RunConfig run;
  // Processes of a data-parallel run (from the launcher's environment, world.h; not a setting).
  int world_size = 1;

  nlohmann::json to_json() const;
  static TrainConfig from_json(const nlohmann::json& j);  // throws std::invalid_argument
  // Checks values and relations (patch divides size, ...); throws std::invalid_argument.
  void validate() const;

  int tokens_t() const { return model.tokens_t(); }
  int tokens_side() const { return model.tokens_side(); }
  int tokens() const { return model.tokens(); }
  // Clips per optimiser step over every rank: what the schedule, the lr and the data order follow,
  // so that 2 ranks x batch 4, 1 x 8 and 1 x 4 x accumulate 2 are the same run.
  long global_batch() const { return static_cast<long>(optim.batch) * world_size * optim.accumulate; }
  double lr() const { return optim.base_lr * static_cast<double>(global_batch()) / 256.0; }
  bool uses(const std::string& target) const {
    auto it = targets.find(target);
    return it != targets.end() && it->second != 0;
  }
};

// Names of the presets, for --help and errors.
std::vector<std::string> model_presets();
std::vector<std::string> recipes();

// Builds a run's settings from the layers above. `file` may be empty. `mode` (pretrain, finetune,
// probe) adds its defaults after the recipe: fine-tuning follows VideoMAE's (lr 2.5e-4 x clips / 256,
// i.e. its 5e-4 per 256 videos of 2 clips; betas 0.9, 0.999; 75 epochs, 5 warm-up, layer decay 0.75, flip, drop path,
// Mixup/CutMix, RandAugment, erasing, repeated sampling 2), probing trains a linear head on a frozen
// encoder without them.
// Throws std::invalid_argument naming the offending key or value.
TrainConfig load_config(const std::filesystem::path& file, const std::vector<std::string>& overrides,
                        const std::string& mode = "pretrain");

// The settings that decide what a run computes: all but the operational ones (run.max_steps,
// run.checkpoint_every, run.log_every, run.timeout, run.bucket_mb, run.overlap, data.workers,
// data.prefetch, run.threads, run.out), so a run can be resumed and extended with different ones.
// optim.batch and optim.accumulate count as their product with the world size (optim.global_batch):
// a run resumes with any number of ranks that keeps the global batch.
nlohmann::json identity(const TrainConfig& config);

}  // namespace trainer
