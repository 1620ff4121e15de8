#pragma once
// The training loop every mode shares (pretrain, finetune, probe): resume from RUNDIR/checkpoint.pt,
// the lr schedule (warm-up then cosine, per optimiser step, times each parameter group's scale),
// gradient accumulation and clipping, metrics, checkpoints, SIGINT/SIGTERM, and the stop on a
// non-finite loss before the weights are touched. What a step computes comes from the mode.
//
// Data-parallel, as PyTorch's DDP: every rank runs this loop on its part of each global batch
// (clip_loader.h); rank 0's weights are broadcast at the start, gradients are averaged
// (gradient_reducer.h), the logged losses are the means over the ranks, and only rank 0 writes
// metrics and checkpoints. A stop request on any rank stops every rank after the same step.
#include <mme/dir_lock.h>
#include <trainer/clip_loader.h>
#include <trainer/config.h>
#include <trainer/process_group.h>

#include <torch/torch.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace trainer {

struct Losses {
  torch::Tensor total;                         // weighted sum (what is minimised)
  std::map<std::string, torch::Tensor> parts;  // per target, unweighted, and other numbers to log
};

struct TrainingTask {
  torch::nn::Module* model = nullptr;
  torch::optim::AdamW* optimizer = nullptr;
  std::vector<double> lr_scale;              // per parameter group (layer decay); empty: 1 for all
  std::function<Losses(const Batch&)> step;  // forward and losses of one micro-batch
  ClipNeeds needs;                           // what the batches carry besides frames (clip_needs.h)
  const ClipAugment* augment = nullptr;      // per-clip augmentations in the loader (clip_augment.h)
};

// VideoMAE's AdamW groups: weight decay except on biases, norms (1-D) and the mask token; `scale`
// maps a parameter name to its lr scale (layer decay), nullptr: 1. Returns the groups and their
// scales.
std::pair<std::vector<torch::optim::OptimizerParamGroup>, std::vector<double>> adamw_groups(
    torch::nn::Module& model, const OptimConfig& optim, const std::function<double(const std::string&)>& scale);

// "auto" picks CUDA when LibTorch sees a GPU; the GPU is cuda:`local_rank`. Throws
// std::invalid_argument for "cuda" without one, or a local rank without its GPU.
torch::Device pick_device(const std::string& name, int local_rank = 0);

// A run's device and its ranks.
struct Run {
  torch::Device device = torch::kCPU;
  std::unique_ptr<ProcessGroup> group;
  // Rank 0's lock on run.out (dir_lock.h): one live run per run directory.
  std::unique_ptr<mme::DirectoryLock> lock;
};

// Sets torch's threads, picks the device, joins the other ranks (world.h: a rendezvous, then the
// same settings on every rank) and makes ranks other than 0 log only warnings, prefixed with their
// rank. `config.world_size` must be the world's size.
Run join_run(const TrainConfig& config);

// What every training mode does first: checks run.out and data.flow_dir, join_run, claims
// RUNDIR for the run's settings (config.json; other settings are refused with each difference
// named) and locks it on rank 0 (a second live run on it stops on every rank, naming the holder).
Run start_run(const TrainConfig& config);

// Writes RUNDIR/skipped.json and logs the videos left out.
void report_skipped(const ClipDataset& dataset, const std::filesystem::path& out);

// Runs the task on the dataset until the schedule (or run.max_steps) ends, with masks from `masks`
// (nullptr: the batches carry none). Returns the exit code.
int train_loop(const TrainConfig& config, const ClipDataset& dataset, const MaskGenerator* masks, TrainingTask& task,
               Run& run);

// rank 0's weights and buffers on every rank.
void broadcast_module(torch::nn::Module& module, ProcessGroup& group);

}  // namespace trainer
