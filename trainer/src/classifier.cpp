#include <trainer/classifier.h>

#include <cmath>
#include <stdexcept>

namespace trainer {

namespace F = torch::nn::functional;

MofoPoolingImpl::MofoPoolingImpl(int dim, int heads_) : heads(heads_) {
  auto norm = [&] { return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(1e-6)); };
  norm_q = register_module("norm_q", norm());
  norm_kv = register_module("norm_kv", norm());
  q = register_module("q", torch::nn::Linear(dim, dim));
  kv = register_module("kv", torch::nn::Linear(dim, 2 * dim));
  proj = register_module("proj", torch::nn::Linear(dim, dim));
}

torch::Tensor MofoPoolingImpl::forward(const torch::Tensor& x, const torch::Tensor& inside) {
  const auto B = x.size(0), N = x.size(1), D = x.size(2), hd = D / heads;
  const auto query = q(norm_q(x)).reshape({B, N, heads, hd}).transpose(1, 2);  // [B, h, N, hd]
  const auto keys_values = kv(norm_kv(x)).reshape({B, N, 2, heads, hd}).permute({2, 0, 3, 1, 4});
  auto logits = torch::matmul(query, keys_values[0].transpose(-2, -1)) / std::sqrt(static_cast<double>(hd));
  // Keys: the outside tokens (all tokens for a clip that has none outside).
  const auto outside = inside.logical_not();
  const auto has_outside = outside.any(1, /*keepdim=*/true);
  const auto key_ok = torch::where(has_outside, outside, torch::ones_like(outside)).reshape({B, 1, 1, N});
  logits = logits.masked_fill(key_ok.logical_not(), -std::numeric_limits<float>::infinity());
  const auto attended = torch::matmul(torch::softmax(logits, -1), keys_values[1]).transpose(1, 2).reshape({B, N, D});
  const auto updated = x + proj(attended) * has_outside.unsqueeze(-1).to(x.dtype());
  // Mean of the inside tokens (of all tokens for a clip without any inside).
  const auto has_inside = inside.any(1, /*keepdim=*/true);
  const auto weight = torch::where(has_inside, inside, torch::ones_like(inside)).to(x.dtype()).unsqueeze(-1);
  return (updated * weight).sum(1) / weight.sum(1);
}

VideoClassifierImpl::VideoClassifierImpl(const ModelConfig& c, int classes, const std::string& pooling_)
    : pooling(pooling_), depth(c.depth) {
  if (pooling != "mean" && pooling != "first" && pooling != "mofo")  // (config.cpp validates the setting)
    throw std::invalid_argument("unknown pooling " + pooling);
  const bool first = pooling == "first";
  encoder = register_module("encoder", Encoder(c, /*final_norm=*/first));
  if (pooling == "mofo") mofo = register_module("mofo", MofoPooling(c.dim, c.heads));
  if (!first)
    fc_norm = register_module("fc_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.dim}).eps(1e-6)));
  head = register_module("head", torch::nn::Linear(c.dim, classes));
  // VideoMAE's _init_weights for every Linear: timm's trunc_normal_(std 0.02), which cuts at +-2
  // (never, at this std), zero bias. The head then scaled by init_scale 0.001. A pretrained
  // encoder replaces the encoder's part of this.
  constexpr double kInitStd = 0.02, kInitScale = 0.001, kTimmBound = 2.0;
  torch::NoGradGuard no_grad;
  for (auto& module : modules(/*include_self=*/false))
    if (auto* linear = module->as<torch::nn::Linear>()) {
      truncated_normal_(linear->weight, kInitStd, kTimmBound);
      if (linear->bias.defined()) linear->bias.zero_();
    }
  head->weight.mul_(kInitScale);
}

torch::Tensor VideoClassifierImpl::features(const torch::Tensor& video, const torch::Tensor& inside,
                                            const torch::Tensor& drop) {
  torch::Tensor tokens;
  if (frozen_encoder) {
    torch::NoGradGuard no_grad;
    encoder->eval();
    tokens = encoder->forward(video, {});
  } else {
    tokens = encoder->forward(video, {}, drop);
  }
  if (!fc_norm) return tokens.select(1, 0);
  return fc_norm(mofo ? mofo->forward(tokens, inside) : tokens.mean(1));
}

int VideoClassifierImpl::layer_of(const std::string& name) const {
  if (name.rfind("encoder.patch_embed", 0) == 0) return 0;
  const std::string blocks = "encoder.blocks.";
  if (name.rfind(blocks, 0) == 0) return std::stoi(name.substr(blocks.size())) + 1;
  return depth + 1;
}

torch::Tensor tokens_inside(const torch::Tensor& boxes, int slices, int rows, int cols) {
  const auto opts = boxes.options();
  const auto cx = (torch::arange(cols, opts) + 0.5).reshape({1, 1, cols});
  const auto cy = (torch::arange(rows, opts) + 0.5).reshape({1, rows, 1});
  auto b = [&](int i) { return boxes.select(1, i).reshape({-1, 1, 1}); };
  const auto spatial = (cx >= b(0)) & (cx < b(2)) & (cy >= b(1)) & (cy < b(3));  // [B, rows, cols]
  return spatial.unsqueeze(1).expand({boxes.size(0), slices, rows, cols}).reshape({boxes.size(0), -1});
}

}  // namespace trainer
