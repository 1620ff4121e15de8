#pragma once
// VideoMAE's multi-view test: `clips` clips evenly spread in time x `crops` square crops along the
// long side (left, centre, right or top, centre, bottom), each resized to the model's size. `trainer
// eval` averages the softmax scores over the views, `trainer features` the embeddings.
#include <trainer/clip_dataset.h>
#include <trainer/config.h>

#include <torch/torch.h>

namespace trainer {

struct TestViews {
  torch::Tensor frames;  // uint8 [clips x crops, frames, S, S, 3], view = clip x crops + crop
  torch::Tensor boxes;   // [clips x crops, 4]: the motion box in token units (zeros without needs.motion_box)
};

// Throws mme::FileError (a read) naming the part file and the video.
TestViews test_views(const ClipDataset& dataset, const VideoEntry& video, const TrainConfig& settings, int clips,
                     int crops, const ClipNeeds& needs);

}  // namespace trainer
