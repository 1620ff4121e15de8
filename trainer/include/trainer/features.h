#pragma once
// `trainer features`: one embedding per video of data.list (or of the flow set), for linear probes,
// retrieval and k-NN evaluation elsewhere. The model is finetune.init (a trainer checkpoint of any
// mode, a torch.save file or a Hugging Face directory): a fine-tuned classifier gives VideoMAE's
// forward_features (fc_norm of the tokens' mean, or the first token after the final norm); a
// pretraining model the mean of its encoder's tokens (after the final norm). Each video's embedding
// is the mean over eval's views (finetune.test_clips x finetune.test_crops).
//
// The file (HDF5, h5py reads it):
//   /features  float32 [videos, dim]
//   /ids       variable-length UTF-8 strings [videos]: the video ids, in the same order
//   /labels    int64 [videos]: the labels (-1 where a video has none)
//   attributes: init (the weights' path), kind ("classifier" or "pretraining"), views_per_video
// Written under a temporary name and published whole.
#include <trainer/config.h>

#include <filesystem>

namespace trainer {

// Returns the number of videos written. Throws mme::FileError or std::invalid_argument.
long write_features(const TrainConfig& config, const std::filesystem::path& out);

}  // namespace trainer
