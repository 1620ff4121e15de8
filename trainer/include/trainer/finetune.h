#pragma once
// Supervised runs on labelled videos (labels from data.list, or the label flowgen stored):
//   finetune  every weight trains, lr x layer_decay^(depth + 1 - layer) (VideoMAE: 0.75)
//   probe     the encoder is frozen; only the pooling, norm and linear head train
//   eval      the multi-view test of a finetune/probe run: finetune.test_clips clips evenly spread in
//             time x finetune.test_crops square crops along the long side, softmax scores averaged
//             per video; writes RUNDIR/eval.json (top-1, top-5) and RUNDIR/confusion.csv.
// Both training modes start from finetune.init (a trainer checkpoint or a VideoMAE-keyed PyTorch
// file) and use the shared training loop (resume, checkpoints, metrics).
#include <trainer/classifier.h>
#include <trainer/config.h>

#include <nlohmann/json.hpp>

namespace trainer {

// Runs config.mode ("finetune" or "probe"). Returns the exit code.
int finetune(const TrainConfig& config);

// Loads finetune.init's encoder weights into `encoder` (a trainer checkpoint of any mode, or a
// PyTorch file, see videomae_io.h). Throws mme::FileError.
void load_encoder(Encoder& encoder, const ModelConfig& model, const std::filesystem::path& file);

// Evaluates RUNDIR/checkpoint.pt (a finetune or probe run; its model settings come from the
// checkpoint) on the videos of `config.data` with `config.finetune`'s views. Returns the
// numbers written to RUNDIR/eval.json.
nlohmann::json evaluate(const TrainConfig& config);

}  // namespace trainer
