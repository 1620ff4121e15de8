#include <trainer/model.h>
#include <trainer/rng.h>

#include <cmath>

namespace trainer {

namespace F = torch::nn::functional;

namespace {

torch::nn::Linear linear(int in, int out, bool bias = true) {
  torch::nn::Linear l(torch::nn::LinearOptions(in, out).bias(bias));
  // VideoMAE's _init_weights: xavier-uniform weights, zero biases.
  torch::nn::init::xavier_uniform_(l->weight);
  if (bias) torch::nn::init::zeros_(l->bias);
  return l;
}

torch::nn::LayerNorm layer_norm(int dim) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(1e-6));
}

}  // namespace

AttentionImpl::AttentionImpl(int dim, int heads_) : heads(heads_) {
  qkv = register_module("qkv", linear(dim, dim * 3, /*bias=*/false));
  q_bias = register_parameter("q_bias", torch::zeros({dim}));
  v_bias = register_parameter("v_bias", torch::zeros({dim}));
  proj = register_module("proj", linear(dim, dim));
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x) {
  const auto B = x.size(0), N = x.size(1), C = x.size(2);
  const auto bias = torch::cat({q_bias, torch::zeros_like(v_bias), v_bias});
  const auto parts = F::linear(x, qkv->weight, bias).reshape({B, N, 3, heads, C / heads}).permute({2, 0, 3, 1, 4});
  const auto q = parts[0], k = parts[1], v = parts[2];
  // Fused attention (flash / memory-efficient on CUDA), scaled by 1/sqrt(head dim) as VideoMAE's.
  const auto out = at::scaled_dot_product_attention(q, k, v);
  return proj(out.transpose(1, 2).reshape({B, N, C}));
}

MlpImpl::MlpImpl(int dim, int hidden) {
  fc1 = register_module("fc1", linear(dim, hidden));
  fc2 = register_module("fc2", linear(hidden, dim));
}

BlockImpl::BlockImpl(int dim, int heads, double mlp_ratio) {
  norm1 = register_module("norm1", layer_norm(dim));
  attn = register_module("attn", Attention(dim, heads));
  norm2 = register_module("norm2", layer_norm(dim));
  mlp = register_module("mlp", Mlp(dim, static_cast<int>(dim * mlp_ratio)));
}

torch::Tensor sinusoid_table(int tokens, int dim) {
  auto table = torch::empty({tokens, dim}, torch::kFloat64);
  auto t = table.accessor<double, 2>();
  for (int p = 0; p < tokens; ++p)
    for (int j = 0; j < dim; ++j) {
      const double angle = p / std::pow(10000.0, 2.0 * (j / 2) / dim);
      t[p][j] = j % 2 == 0 ? std::sin(angle) : std::cos(angle);
    }
  return table.to(torch::kFloat32);
}

PatchEmbedImpl::PatchEmbedImpl(int dim, int tubelet, int patch) {
  proj = register_module(
      "proj",
      torch::nn::Conv3d(torch::nn::Conv3dOptions(3, dim, {tubelet, patch, patch}).stride({tubelet, patch, patch})));
}

EncoderImpl::EncoderImpl(const ModelConfig& c, bool final_norm) {
  patch_embed = register_module("patch_embed", PatchEmbed(c.dim, c.tubelet, c.patch));
  pos_embed = register_buffer("pos_embed", sinusoid_table(c.tokens(), c.dim).unsqueeze(0));
  for (int i = 0; i < c.depth; ++i) blocks->push_back(Block(c.dim, c.heads, c.mlp_ratio));
  register_module("blocks", blocks);
  if (final_norm) norm = register_module("norm", layer_norm(c.dim));
}

torch::Tensor EncoderImpl::forward(const torch::Tensor& video, const torch::Tensor& mask, const torch::Tensor& drop) {
  auto x = patch_embed(video).flatten(2).transpose(1, 2);  // [B, tokens, dim]
  x = x + pos_embed.to(x.dtype());
  const auto B = x.size(0), D = x.size(2);
  if (mask.defined()) x = x.index({mask.logical_not()}).reshape({B, -1, D});
  for (std::size_t i = 0; i < blocks->size(); ++i) {
    auto* block = blocks[i]->as<Block>();
    x = drop.defined() ? block->forward(x, drop.select(1, static_cast<long>(i))) : block->forward(x);
  }
  return norm ? norm(x) : x;
}

MaskedVideoModelImpl::MaskedVideoModelImpl(const ModelConfig& c, const std::map<std::string, int>& heads) {
  encoder = register_module("encoder", Encoder(c));
  encoder_to_decoder = register_module("encoder_to_decoder", linear(c.dim, c.decoder_dim, /*bias=*/false));
  mask_token = register_parameter("mask_token", torch::zeros({1, 1, c.decoder_dim}));
  // VideoMAE's pretraining model wraps timm's trunc_normal_ to cut at +-std (modeling_pretrain.py's
  // own trunc_normal_); its fine-tuning model calls timm's directly, which cuts at +-2, i.e. never.
  constexpr double kInitStd = 0.02;
  truncated_normal_(mask_token, kInitStd, kInitStd);
  decoder_pos_embed = register_buffer("decoder_pos_embed", sinusoid_table(c.tokens(), c.decoder_dim).unsqueeze(0));
  for (int i = 0; i < c.decoder_depth; ++i)
    decoder_blocks->push_back(Block(c.decoder_dim, c.decoder_heads, c.mlp_ratio));
  register_module("decoder_blocks", decoder_blocks);
  decoder_norm = register_module("decoder_norm", layer_norm(c.decoder_dim));
  std::vector<std::pair<std::string, std::shared_ptr<torch::nn::Module>>> named;
  for (const auto& [name, channels] : heads) {
    torch::nn::Sequential head;
    if (c.head == "mlp") {
      // MME's head: Linear(d, 512) - GELU - Linear(512, C).
      constexpr int kMmeHeadHidden = 512;
      head->push_back(linear(c.decoder_dim, kMmeHeadHidden));
      head->push_back(torch::nn::GELU());
      head->push_back(linear(kMmeHeadHidden, channels));
    } else {
      head->push_back(linear(c.decoder_dim, channels));
    }
    named.emplace_back(name, head.ptr());
  }
  decoder_heads = torch::nn::ModuleDict(named);
  register_module("decoder_heads", decoder_heads);
}

std::map<std::string, torch::Tensor> MaskedVideoModelImpl::forward(const torch::Tensor& video,
                                                                   const torch::Tensor& mask) {
  const auto visible = encoder_to_decoder(encode(video, mask));
  const auto B = visible.size(0), D = visible.size(2);
  const auto pos = decoder_pos_embed.to(visible.dtype()).expand({B, -1, -1});
  const auto pos_visible = pos.index({mask.logical_not()}).reshape({B, -1, D});
  const auto pos_masked = pos.index({mask}).reshape({B, -1, D});
  const auto masked = pos_masked.size(1);
  auto x = torch::cat({visible + pos_visible, mask_token.to(visible.dtype()) + pos_masked}, 1);
  for (const auto& block : *decoder_blocks) x = block->as<Block>()->forward(x);
  x = decoder_norm(x.slice(1, x.size(1) - masked));
  std::map<std::string, torch::Tensor> out;
  for (const auto& [name, head] : decoder_heads->items()) out[name] = head->as<torch::nn::Sequential>()->forward(x);
  return out;
}

torch::Tensor drop_path_scales(int clips, int depth, double rate, std::uint64_t seed, long micro_batch,
                               int first_clip) {
  constexpr std::uint64_t kSalt = 0xd409a7f1c3b2e655ULL;  // keeps these streams apart from the loader's
  auto scales = torch::empty({clips, depth, 2});
  auto s = scales.accessor<float, 3>();
  for (int c = 0; c < clips; ++c) {
    auto rng =
        Rng::stream(seed ^ kSalt, static_cast<std::uint64_t>(micro_batch), static_cast<std::uint64_t>(first_clip + c));
    for (int i = 0; i < depth; ++i) {
      const double keep = 1.0 - (depth > 1 ? rate * i / (depth - 1) : 0.0);
      for (int branch = 0; branch < 2; ++branch) s[c][i][branch] = rng.uniform01() < keep ? 1.0 / keep : 0.0;
    }
  }
  return scales;
}

void truncated_normal_(torch::Tensor t, double std, double bound) {
  torch::NoGradGuard no_grad;
  // Uniform over the CDF's values at +-bound, mapped back through the inverse CDF.
  const double cdf = 0.5 * (1.0 + std::erf(bound / std / std::sqrt(2.0)));
  t.uniform_(2 * (1 - cdf) - 1, 2 * cdf - 1).erfinv_().mul_(std * std::sqrt(2.0)).clamp_(-bound, bound);
}

torch::Tensor frames_to_video(const torch::Tensor& frames) {
  return frames.permute({0, 4, 1, 2, 3}).to(torch::kFloat32).div(255.0);
}

torch::Tensor imagenet_normalise(const torch::Tensor& video) {
  const auto opts = video.options();
  const auto mean = torch::tensor({0.485f, 0.456f, 0.406f}, opts).reshape({1, 3, 1, 1, 1});
  const auto std = torch::tensor({0.229f, 0.224f, 0.225f}, opts).reshape({1, 3, 1, 1, 1});
  return (video - mean) / std;
}

}  // namespace trainer
