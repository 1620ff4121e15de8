#pragma once
// The masked video autoencoder (VideoMAE, docs/method.md section 2): a ViT encoder on the visible tubes
// (tubelet 2x16x16, fixed sin-cos positions, qkv with q and v biases, LayerNorm eps 1e-6), then a
// narrow decoder that sees the encoded tokens plus a mask token at every masked position, and one
// head per target on the masked positions. The encoder's parameter names are VideoMAE's state_dict
// keys (encoder.patch_embed.proj.weight, encoder.blocks.0.attn.qkv.weight, ...), so its weights can
// be exchanged with VideoMAE.
#include <trainer/config.h>

#include <torch/torch.h>

#include <map>
#include <string>

namespace trainer {

struct AttentionImpl : torch::nn::Module {
  AttentionImpl(int dim, int heads);
  torch::Tensor forward(const torch::Tensor& x);
  int heads;
  torch::nn::Linear qkv{nullptr}, proj{nullptr};
  torch::Tensor q_bias, v_bias;  // VideoMAE: biases on q and v only
};
TORCH_MODULE(Attention);

struct MlpImpl : torch::nn::Module {
  MlpImpl(int dim, int hidden);
  torch::Tensor forward(const torch::Tensor& x) { return fc2(torch::gelu(fc1(x))); }
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(Mlp);

struct BlockImpl : torch::nn::Module {
  BlockImpl(int dim, int heads, double mlp_ratio);
  torch::Tensor forward(torch::Tensor x) {
    x = x + attn(norm1(x));
    return x + mlp(norm2(x));
  }
  // With stochastic depth (drop path): `scale` [B, 2] multiplies each clip's attention and MLP
  // branch (0 when dropped, 1 / keep probability when kept; drop_path_scales).
  torch::Tensor forward(torch::Tensor x, const torch::Tensor& scale) {
    const auto s = scale.to(x.dtype()).unsqueeze(-1).unsqueeze(-1);  // [B, 2, 1, 1]
    x = x + attn(norm1(x)) * s.select(1, 0);
    return x + mlp(norm2(x)) * s.select(1, 1);
  }
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  Attention attn{nullptr};
  Mlp mlp{nullptr};
};
TORCH_MODULE(Block);

// VideoMAE's 1-D sin-cos table over the flattened token index: [tokens, dim].
torch::Tensor sinusoid_table(int tokens, int dim);

struct PatchEmbedImpl : torch::nn::Module {
  PatchEmbedImpl(int dim, int tubelet, int patch);
  torch::Tensor forward(const torch::Tensor& video) { return proj(video); }
  torch::nn::Conv3d proj{nullptr};  // one tube -> one token
};
TORCH_MODULE(PatchEmbed);

struct EncoderImpl : torch::nn::Module {
  // `final_norm`: a LayerNorm after the last block (`norm`). VideoMAE's pretraining encoder has it;
  // its mean-pooling classifier does not (its `norm` is an identity, and `fc_norm` follows the mean).
  explicit EncoderImpl(const ModelConfig& config, bool final_norm = true);
  // video [B, 3, T, S, S] (normalised), mask [B, tokens] (true = masked, the same count per clip;
  // undefined: every token visible) -> visible tokens [B, visible, dim] after the final norm.
  // `drop` [B, depth, 2]: drop-path scales per block (undefined: none).
  torch::Tensor forward(const torch::Tensor& video, const torch::Tensor& mask, const torch::Tensor& drop = {});
  PatchEmbed patch_embed{nullptr};
  torch::Tensor pos_embed;  // buffer
  torch::nn::ModuleList blocks;
  torch::nn::LayerNorm norm{nullptr};  // null without a final norm
};
TORCH_MODULE(Encoder);

class MaskedVideoModelImpl : public torch::nn::Module {
 public:
  // `heads`: target name -> values per token.
  MaskedVideoModelImpl(const ModelConfig& config, const std::map<std::string, int>& heads);
  // Features of the visible tokens (fine-tuning and probing use these).
  torch::Tensor encode(const torch::Tensor& video, const torch::Tensor& mask) { return encoder->forward(video, mask); }
  // Predictions for the masked tokens, per target: [B, masked, channels], masked tokens in
  // token order (the order of target[mask]).
  std::map<std::string, torch::Tensor> forward(const torch::Tensor& video, const torch::Tensor& mask);

  Encoder encoder{nullptr};
  torch::nn::Linear encoder_to_decoder{nullptr};
  torch::Tensor mask_token, decoder_pos_embed;
  torch::nn::ModuleList decoder_blocks;
  torch::nn::LayerNorm decoder_norm{nullptr};
  torch::nn::ModuleDict decoder_heads;  // target name -> its head (a Sequential)
};
TORCH_MODULE(MaskedVideoModel);

// Stochastic depth as timm's DropPath with VideoMAE's linear rule (block i drops with probability
// rate x i / (depth - 1)), drawn for each clip from its own stream (seed, micro-batch, clip's place
// in the global micro-batch), so a run's draws do not depend on the number of ranks: [clips, depth,
// 2] scales, clips first_clip.. of micro-batch `micro_batch`.
torch::Tensor drop_path_scales(int clips, int depth, double rate, std::uint64_t seed, long micro_batch, int first_clip);

// Fills `t` from a normal(0, std) truncated to [-bound, bound] (timm's trunc_normal_: inverse CDF).
void truncated_normal_(torch::Tensor t, double std, double bound);

// uint8 [B, T, S, S, 3] RGB -> float [B, 3, T, S, S] in [0, 1].
torch::Tensor frames_to_video(const torch::Tensor& frames);
// ImageNet mean/std normalisation of [B, 3, T, S, S] in [0, 1] (the model's input).
torch::Tensor imagenet_normalise(const torch::Tensor& video);

}  // namespace trainer
