#pragma once
// The supervised model of fine-tuning and probing, VideoMAE's VisionTransformer (modeling_finetune.py):
// the pretrained encoder on all tokens, pooling, and a linear head. Pooling is one of
//   mean   VideoMAE's default (use_mean_pooling): no final encoder norm, fc_norm on the tokens' mean
//   first  VideoMAE's use_mean_pooling=False: the final norm, then the first token (ViT has no class
//          token here), no fc_norm
//   mofo   MOFO's: the tokens inside the motion box query the tokens outside through one
//          cross-attention block, fc_norm on the mean of the updated inside tokens
// Parameter names are VideoMAE's with "encoder." before the encoder's (videomae_io.h).
#include <trainer/config.h>
#include <trainer/model.h>

#include <torch/torch.h>

#include <string>

namespace trainer {

// MOFO's fine-tuning block: pre-norm cross-attention from inside tokens to outside tokens, with a
// residual, then the mean of the inside tokens. A clip without inside tokens pools all tokens; a
// clip without outside tokens skips the attention.
struct MofoPoolingImpl : torch::nn::Module {
  MofoPoolingImpl(int dim, int heads);
  // tokens [B, N, D], inside bool [B, N] -> [B, D]
  torch::Tensor forward(const torch::Tensor& tokens, const torch::Tensor& inside);
  int heads;
  torch::nn::LayerNorm norm_q{nullptr}, norm_kv{nullptr};
  torch::nn::Linear q{nullptr}, kv{nullptr}, proj{nullptr};
};
TORCH_MODULE(MofoPooling);

class VideoClassifierImpl : public torch::nn::Module {
 public:
  VideoClassifierImpl(const ModelConfig& config, int classes, const std::string& pooling);
  // Pooled, normalised features [B, D] (what the head sees); `inside` (bool [B, tokens]) is used by
  // MOFO pooling.
  // `drop`: drop-path scales [B, depth, 2] (training; undefined: none).
  torch::Tensor features(const torch::Tensor& video, const torch::Tensor& inside, const torch::Tensor& drop = {});
  torch::Tensor forward(const torch::Tensor& video, const torch::Tensor& inside, const torch::Tensor& drop = {}) {
    return head(features(video, inside, drop));
  }
  // Layer index for layer-wise lr decay: 0 for the patch embedding, i + 1 for block i, depth + 1
  // for everything after the blocks.
  int layer_of(const std::string& parameter) const;

  Encoder encoder{nullptr};
  MofoPooling mofo{nullptr};
  torch::nn::LayerNorm fc_norm{nullptr};  // null with "first" pooling
  torch::nn::Linear head{nullptr};
  std::string pooling;
  bool frozen_encoder = false;  // probing: the encoder runs without gradients, in eval mode
  int depth = 0;
};
TORCH_MODULE(VideoClassifier);

// Tokens whose centre lies inside each clip's box: boxes [B, 4] (x0, y0, x1, y1 in token units)
// -> bool [B, slices x rows x cols], the same in every slice.
torch::Tensor tokens_inside(const torch::Tensor& boxes, int slices, int rows, int cols);

}  // namespace trainer
