#include <trainer/checkpoint.h>
#include <trainer/finetune.h>
#include <trainer/pretrain.h>
#include <trainer/safetensors.h>
#include <trainer/torch_error.h>
#include <trainer/videomae_io.h>

#include <mme/atomic_file.h>
#include <mme/error.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <set>

namespace trainer {

namespace fs = std::filesystem;

namespace {

bool starts(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

// Replaces `from` at the start of `name` by `to`; false (and `name` unchanged) when it is not there.
bool swap_prefix(std::string& name, const std::string& from, const std::string& to) {
  if (!starts(name, from)) return false;
  name = to + name.substr(from.size());
  return true;
}

// One transformer block's parts: ours (VideoMAE's) and Hugging Face's. The qkv projection is one
// matrix in VideoMAE and three in HF (handled apart).
constexpr std::pair<const char*, const char*> kBlockParts[] = {{"attn.q_bias", "attention.attention.q_bias"},
                                                               {"attn.v_bias", "attention.attention.v_bias"},
                                                               {"attn.proj.", "attention.output.dense."},
                                                               {"mlp.fc1.", "intermediate.dense."},
                                                               {"mlp.fc2.", "output.dense."},
                                                               {"norm1.", "layernorm_before."},
                                                               {"norm2.", "layernorm_after."}};
// transformers 5 renames q_bias and v_bias so on loading; files it wrote may hold these.
constexpr std::pair<const char*, const char*> kNewHfBiases[] = {{"attn.q_bias", "attention.attention.query.bias"},
                                                                {"attn.v_bias", "attention.attention.value.bias"}};
constexpr const char* kHfQkv[] = {"attention.attention.query.weight", "attention.attention.key.weight",
                                  "attention.attention.value.weight"};

// Our decoder's names and VideoMAE's, both ways (a linear pixel head is VideoMAE's decoder.head;
// MME's other heads have no VideoMAE name and keep theirs under decoder.heads). The pixel head
// comes before the other heads: its prefix is the longer one on our side.
constexpr std::pair<const char*, const char*> kVideoMaeDecoder[] = {{"decoder_blocks.", "decoder.blocks."},
                                                                    {"decoder_norm.", "decoder.norm."},
                                                                    {"decoder_heads.pixel.0.", "decoder.head."},
                                                                    {"decoder_heads.", "decoder.heads."}};

// Our stacks of blocks and where HF keeps them.
constexpr std::pair<const char*, const char*> kHfStacks[] = {{"encoder.blocks.", "videomae.encoder.layer."},
                                                             {"decoder_blocks.", "decoder.decoder_layers."}};
// Our other names and HF's.
constexpr std::pair<const char*, const char*> kHfNames[] = {
    {"encoder.patch_embed.proj.", "videomae.embeddings.patch_embeddings.projection."},
    {"encoder.norm.", "videomae.layernorm."},
    {"decoder_norm.", "decoder.norm."},
    {"decoder_heads.pixel.0.", "decoder.head."},
    {"head.", "classifier."},
    {"fc_norm.", "fc_norm."},
    {"encoder_to_decoder.", "encoder_to_decoder."},
    {"mask_token", "mask_token"}};

// Splits "stack.N.rest" into ("stack.N.", "rest").
bool split_block(const std::string& name, const std::string& stack, std::string& block, std::string& rest) {
  if (!starts(name, stack)) return false;
  const auto dot = name.find('.', stack.size());
  if (dot == std::string::npos) return false;
  block = name.substr(0, dot + 1);
  rest = name.substr(dot + 1);
  return true;
}

// A key of a Hugging Face file -> ours (the split q, k, v weights keep their HF ending: the caller
// joins them).
std::string from_hf(std::string name) {
  // VideoMAEModel saved alone has no "videomae." prefix.
  for (const char* base : {"embeddings.", "encoder.layer.", "layernorm."})
    if (starts(name, base)) name = "videomae." + name;
  for (const auto& [ours, hf] : kHfStacks) {
    std::string block, rest;
    if (!split_block(name, hf, block, rest)) continue;
    const auto index = block.substr(std::string(hf).size());
    for (const auto& [o, h] : kBlockParts)
      if (swap_prefix(rest, h, o)) return ours + index + rest;
    for (const auto& [o, h] : kNewHfBiases)
      if (rest == h) return ours + index + o;
    return ours + index + rest;  // (qkv parts and unknown names)
  }
  for (const auto& [ours, hf] : kHfNames)
    if (swap_prefix(name, hf, ours)) return name;
  return name;
}

bool looks_hf(const std::string& name) {
  for (const char* p : {"videomae.", "embeddings.patch_embeddings.", "encoder.layer.", "layernorm.",
                        "decoder.decoder_layers.", "classifier."})
    if (starts(name, p)) return true;
  return false;
}

// A key of a VideoMAE-style file (pretraining or fine-tuning names, MME's, ours) -> ours.
std::string from_videomae(std::string name) {
  swap_prefix(name, "backbone.", "encoder.");
  for (const char* part : {"patch_embed.", "blocks.", "norm."})
    if (starts(name, part)) return "encoder." + name;
  for (const auto& [ours, videomae] : kVideoMaeDecoder)
    if (swap_prefix(name, videomae, ours)) break;
  return name;
}

std::string shape(const torch::Tensor& t) {
  return fmt::format("{}", t.sizes());
}

// The tensors of a HF directory: model.safetensors, its shards, or pytorch_model.bin.
NamedTensors read_hf_directory(const fs::path& dir, std::vector<std::string>& ignored) {
  if (fs::exists(dir / "model.safetensors")) return read_safetensors(dir / "model.safetensors");
  if (fs::exists(dir / "model.safetensors.index.json")) {
    const auto index_file = dir / "model.safetensors.index.json";
    std::set<std::string> shards;
    try {
      std::ifstream in(index_file);
      for (const auto& [name, shard] : nlohmann::json::parse(in).at("weight_map").items())
        shards.insert(shard.get<std::string>());
    } catch (const std::exception& e) {
      throw mme::FileError(index_file, fmt::format("is not a safetensors index: {}", e.what()));
    }
    NamedTensors all;
    for (const auto& shard : shards) {
      if (shard.find('/') != std::string::npos || shard.find("..") != std::string::npos)
        throw mme::FileError(index_file, "names a shard outside its directory: " + shard);
      for (auto& t : read_safetensors(dir / shard)) all.push_back(std::move(t));
    }
    return all;
  }
  if (fs::exists(dir / "pytorch_model.bin")) {
    auto file = read_state_dict(dir / "pytorch_model.bin");
    ignored = file.ignored;
    return file.tensors;
  }
  throw mme::FileError(dir,
                       "is a directory without model.safetensors, its index or pytorch_model.bin (a Hugging "
                       "Face model directory is expected)");
}

}  // namespace

ForeignWeights read_foreign_weights(const fs::path& file) {
  ForeignWeights out;
  NamedTensors tensors;
  if (fs::is_directory(file)) {
    tensors = read_hf_directory(file, out.ignored);
  } else if (file.extension() == ".safetensors") {
    tensors = read_safetensors(file);
  } else {
    auto contents = read_state_dict(file);
    tensors = std::move(contents.tensors);
    out.ignored = std::move(contents.ignored);
  }
  // HF's split q, k, v of one block, joined again.
  std::map<std::string, std::array<torch::Tensor, 3>> qkv;
  for (auto& [key, tensor] : tensors) {
    auto name = key;
    while (swap_prefix(name, "module.", "")) {
    }
    if (looks_hf(name)) {
      name = from_hf(name);
      bool part = false;
      for (int i = 0; i < 3; ++i) {
        const std::string suffix = kHfQkv[i];
        if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
          qkv[name.substr(0, name.size() - suffix.size()) + "attn.qkv.weight"][i] = tensor;
          part = true;
        }
      }
      if (part) continue;
    } else {
      name = from_videomae(name);
    }
    if (!out.tensors.emplace(name, tensor).second)
      throw mme::FileError(file, fmt::format("holds {} twice (as {} and another key)", name, key));
  }
  for (const auto& [name, parts] : qkv) {
    if (!parts[0].defined() || !parts[1].defined() || !parts[2].defined())
      throw mme::FileError(file, fmt::format("holds only some of the query, key and value weights of {}", name));
    if (parts[0].sizes() != parts[1].sizes() || parts[0].sizes() != parts[2].sizes())
      throw mme::FileError(file, fmt::format("the query, key and value weights of {} differ in shape", name));
    out.tensors[name] = torch::cat({parts[0], parts[1], parts[2]}, 0);
  }
  return out;
}

std::string LoadReport::summary() const {
  std::string s = fmt::format("{} tensors loaded", loaded);
  if (!fresh.empty()) s += fmt::format("; not in the file, kept as initialised: {}", fmt::join(fresh, ", "));
  // Ignored weights by module ("decoder_blocks.* (48 tensors)"): a ViT-B decoder's names would fill a screen.
  struct Group {
    std::string key, first;
    int count = 0;
  };
  std::vector<Group> groups;
  for (const auto& name : ignored) {
    const auto dot = name.find('.');
    const bool weight = name.find(' ') == std::string::npos && dot != std::string::npos;
    const auto key = weight ? name.substr(0, starts(name, "encoder.") ? name.find('.', dot + 1) : dot) + ".*" : name;
    if (weight && !groups.empty() && groups.back().key == key)
      ++groups.back().count;
    else
      groups.push_back({key, name, 1});
  }
  std::vector<std::string> shown;
  for (const auto& g : groups) shown.push_back(g.count > 1 ? fmt::format("{} ({} tensors)", g.key, g.count) : g.first);
  if (!shown.empty()) s += fmt::format("; ignored: {}", fmt::join(shown, ", "));
  return s;
}

LoadReport set_weights(torch::nn::Module& module, const std::map<std::string, torch::Tensor>& weights,
                       const fs::path& file, const std::function<bool(const std::string&)>& required) {
  std::vector<std::string> problems;
  LoadReport report;
  const auto mine = module.named_parameters();
  std::vector<std::pair<torch::Tensor, torch::Tensor>> copies;
  for (const auto& p : mine) {
    const auto it = weights.find(p.key());
    const bool needed = required(p.key());
    if (it == weights.end()) {
      if (needed)
        problems.push_back(fmt::format("{} missing", p.key()));
      else
        report.fresh.push_back(p.key());
    } else if (it->second.sizes() != p.value().sizes()) {
      if (needed)
        problems.push_back(fmt::format("{} is {} in the file, {} here", p.key(), shape(it->second), shape(p.value())));
      else
        report.fresh.push_back(
            fmt::format("{} ({} in the file, {} here)", p.key(), shape(it->second), shape(p.value())));
    } else {
      copies.emplace_back(p.value(), it->second);
    }
  }
  if (!problems.empty()) {
    // The first few differences say what is wrong; a whole ViT's list would bury it.
    constexpr std::size_t shown = 4;
    const auto more = problems.size() > shown ? fmt::format("; and {} more", problems.size() - shown) : "";
    problems.resize(std::min(problems.size(), shown));
    throw mme::FileError(file, fmt::format("does not fit this model (check model_preset and model.*): {}{}",
                                           fmt::join(problems, "; "), more));
  }
  torch::NoGradGuard no_grad;
  for (auto& [to, from] : copies) to.copy_(from);
  report.loaded = static_cast<int>(copies.size());
  for (const auto& [name, tensor] : weights)
    if (!mine.contains(name)) report.ignored.push_back(name);
  return report;
}

NamedTensors to_videomae(const NamedTensors& ours, bool classifier) {
  NamedTensors out;
  for (const auto& [key, tensor] : ours) {
    auto name = key;
    if (classifier)
      swap_prefix(name, "encoder.", "");
    else
      for (const auto& [mine, videomae] : kVideoMaeDecoder)
        if (swap_prefix(name, mine, videomae)) break;
    out.emplace_back(name, tensor);
  }
  return out;
}

NamedTensors to_hf(const NamedTensors& ours, std::vector<std::string>& unplaced) {
  NamedTensors out;
  for (const auto& [key, tensor] : ours) {
    std::string name = key, mapped;
    for (const auto& [o, hf] : kHfStacks) {
      std::string block, rest;
      if (!split_block(name, o, block, rest)) continue;
      const auto prefix = std::string(hf) + block.substr(std::string(o).size());
      if (rest == "attn.qkv.weight") {
        const auto parts = tensor.chunk(3, 0);
        for (int i = 0; i < 3; ++i) out.emplace_back(prefix + kHfQkv[i], parts[i]);
        mapped = "(split)";
      }
      for (const auto& [ob, hb] : kBlockParts)
        if (mapped.empty() && swap_prefix(rest, ob, hb)) mapped = prefix + rest;
    }
    for (const auto& [o, hf] : kHfNames)
      if (mapped.empty() && swap_prefix(name, o, hf)) mapped = name;
    if (mapped.empty())
      unplaced.push_back(key);
    else if (mapped != "(split)")
      out.emplace_back(mapped, tensor);
  }
  return out;
}

std::string export_run(const fs::path& checkpoint, const fs::path& out, const std::string& format) {
  if (format != "videomae" && format != "hf")
    throw std::invalid_argument("--format must be videomae or hf, not " + format);
  const auto config = TrainConfig::from_json(checkpoint_settings(checkpoint));
  const bool classifier = config.mode != "pretrain";
  const auto& m = config.model;
  NamedTensors ours;
  std::shared_ptr<torch::nn::Module> model;
  int classes = 0;
  bool linear_pixel_head = false;
  if (classifier) {
    classes = head_classes(checkpoint);
    VideoClassifier c(m, classes, config.finetune.pooling);
    model = c.ptr();
  } else {
    auto p = make_model(config);
    linear_pixel_head = p->decoder_heads->contains("pixel") && p->decoder_heads["pixel"]->children().size() == 1;
    model = p.ptr();
  }
  load_weights(checkpoint, *model, torch::kCPU);
  for (const auto& p : model->named_parameters()) ours.emplace_back(p.key(), p.value());

  if (format == "videomae") {
    write_state_dict(out, to_videomae(ours, classifier), "model");
    return fmt::format("{}: the {} model with VideoMAE's names ({} tensors, under \"model\")", out.string(),
                       classifier ? "fine-tuned" : "pretraining", ours.size());
  }

  if (classifier && config.finetune.pooling == "mofo")
    throw mme::FileError(checkpoint,
                         "uses MOFO pooling, which has no Hugging Face model: export with --format videomae");
  // Pretraining with pixels through a linear head is VideoMAEForPreTraining; with other targets
  // (HF has no place for them) the encoder alone is VideoMAEModel.
  std::string architecture = classifier ? "VideoMAEForVideoClassification" : "VideoMAEForPreTraining";
  if (!classifier && !linear_pixel_head) {
    architecture = "VideoMAEModel";
    NamedTensors encoder;
    for (const auto& t : ours)
      if (starts(t.first, "encoder.")) encoder.push_back(t);
    ours = std::move(encoder);
  }
  std::vector<std::string> unplaced;
  auto tensors = to_hf(ours, unplaced);
  if (!unplaced.empty())
    throw mme::FileError(checkpoint,
                         fmt::format("has weights without a Hugging Face name: {}", fmt::join(unplaced, ", ")));
  if (architecture == "VideoMAEModel")
    for (auto& t : tensors) swap_prefix(t.first, "videomae.", "");

  nlohmann::ordered_json hf{{"architectures", {architecture}},
                            {"model_type", "videomae"},
                            {"image_size", m.img_size},
                            {"patch_size", m.patch},
                            {"num_channels", 3},
                            {"num_frames", m.frames},
                            {"tubelet_size", m.tubelet},
                            {"hidden_size", m.dim},
                            {"num_hidden_layers", m.depth},
                            {"num_attention_heads", m.heads},
                            {"intermediate_size", static_cast<int>(m.dim * m.mlp_ratio)},
                            {"hidden_act", "gelu"},
                            {"hidden_dropout_prob", 0.0},
                            {"attention_probs_dropout_prob", 0.0},
                            {"initializer_range", 0.02},
                            {"layer_norm_eps", 1e-6},
                            {"qkv_bias", true},
                            {"use_mean_pooling", classifier && config.finetune.pooling == "mean"},
                            {"decoder_num_attention_heads", m.decoder_heads},
                            {"decoder_hidden_size", m.decoder_dim},
                            {"decoder_num_hidden_layers", m.decoder_depth},
                            {"decoder_intermediate_size", static_cast<int>(m.decoder_dim * m.mlp_ratio)},
                            {"norm_pix_loss", true},
                            {"torch_dtype", "float32"}};
  if (classifier) {
    nlohmann::ordered_json id2label, label2id;
    for (int c = 0; c < classes; ++c) {
      id2label[std::to_string(c)] = std::to_string(c);
      label2id[std::to_string(c)] = c;
    }
    hf["id2label"] = id2label;
    hf["label2id"] = label2id;
  }
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) throw mme::OutputError(out, "creating", ec.value());
  write_safetensors(out / "model.safetensors", tensors, {{"format", "pt"}});
  mme::write_atomically(out / "config.json", hf.dump(2) + "\n");
  return fmt::format("{}: {} for Hugging Face (config.json, model.safetensors, {} tensors)", out.string(), architecture,
                     tensors.size());
}

}  // namespace trainer
