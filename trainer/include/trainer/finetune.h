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
#include <trainer/videomae_io.h>

#include <nlohmann/json.hpp>

namespace trainer {

// Runs config.mode ("finetune" or "probe"). Returns the exit code.
int finetune(const TrainConfig& config);

// The weights of finetune.init by our names: a trainer checkpoint of any mode (its model settings
// must shape the encoder as `config` does), a torch.save file or a Hugging Face directory.
struct InitWeights {
  std::map<std::string, torch::Tensor> tensors;
  std::vector<std::string> ignored;  // the file's entries that are not weights
  std::string pooling;               // a classifier's pooling (mean, first, mofo); "" for a pretraining model
  std::string source;                // what the file is, for the log ("a pretrain run's checkpoint")
};
InitWeights read_init(const ModelConfig& config, const std::filesystem::path& file);

// Loads finetune.init into `model`: every encoder weight (required; VideoMAE's classifier has no
// final encoder norm, so a pretrained one is ignored), and fc_norm and the head when the file has
// them with this model's shapes (a checkpoint fine-tuned on either side gives the same logits; one
// with another class count starts a new head). `file`: a trainer checkpoint of any mode, a torch.save
// file or a Hugging Face directory (videomae_io.h). Throws mme::FileError.
LoadReport load_init(VideoClassifier& model, const ModelConfig& config, const std::filesystem::path& file);

// The classes a finetune/probe checkpoint's head was trained with. Throws mme::FileError.
int head_classes(const std::filesystem::path& checkpoint);

// Evaluates RUNDIR/checkpoint.pt (a finetune or probe run; its model settings come from the
// checkpoint), or finetune.init when set (a classifier fine-tuned elsewhere: VideoMAE's, a Hugging
// Face directory, an export; the model settings are this command's), on the videos of
// `config.data` with `config.finetune`'s views. Returns the numbers written to RUNDIR/eval.json.
nlohmann::json evaluate(const TrainConfig& config);

}  // namespace trainer
