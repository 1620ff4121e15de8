#pragma once
// Weights both ways with VideoMAE's code (and MME's and MOFO's, built on it) and Hugging Face's
// `transformers`.
//
// Our parameter names are VideoMAE's, except for the decoder:
//   ours                          VideoMAE (modeling_pretrain.py)      Hugging Face (modeling_videomae.py)
//   encoder.patch_embed.proj.*    encoder.patch_embed.proj.* videomae.embeddings.patch_embeddings.projection.*
//   encoder.blocks.i.attn.qkv.w   encoder.blocks.i.attn.qkv.weight
//   ...layer.i.attention.attention.{query,key,value}.weight encoder.blocks.i.attn.q_bias  (same)
//   ...layer.i.attention.attention.q_bias encoder.blocks.i.attn.proj.*  (same) ...layer.i.attention.output.dense.*
//   encoder.blocks.i.mlp.fc1/fc2  (same)                               ...layer.i.intermediate.dense / output.dense
//   encoder.blocks.i.norm1/norm2  (same)                               ...layer.i.layernorm_before / layernorm_after
//   encoder.norm.*                (same)                               videomae.layernorm.*
//   decoder_blocks.i.*            decoder.blocks.i.*                   decoder.decoder_layers.i.* (as the encoder's)
//   decoder_norm.*                decoder.norm.*                       decoder.norm.*
//   decoder_heads.pixel.0.*       decoder.head.* (a linear pixel head) decoder.head.*
//   decoder_heads.T.*             decoder.heads.T.* (MME's other targets; no place in VideoMAE or HF)
//   encoder_to_decoder, mask_token (same)                              (same)
// and the classifier (VideoMAE's VisionTransformer, which has no "encoder." prefix):
//   encoder.X                     X                                    videomae.X as above
//   fc_norm.*, head.*             fc_norm.*, head.*                    fc_norm.*, classifier.*
// The fixed sin-cos position tables are not weights in any of them.
//
// Reading takes any of these layouts, in a torch.save file (torch_file.h: a bare state_dict, under
// "model", "module" or "state_dict", beside argparse Namespaces, epochs, optimiser state; keys with
// "module." from DDP or "backbone.") or a Hugging Face directory (config.json + model.safetensors,
// sharded or not) or a .safetensors file.
#include <trainer/classifier.h>
#include <trainer/config.h>
#include <trainer/model.h>
#include <trainer/torch_file.h>

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace trainer {

// Weights by our names, read from a file or directory in any layout above.
struct ForeignWeights {
  std::map<std::string, torch::Tensor> tensors;
  std::vector<std::string> ignored;  // entries that are not weights, one description each
};
ForeignWeights read_foreign_weights(const std::filesystem::path& file);

// What setting weights did, for the one-line log.
struct LoadReport {
  int loaded = 0;
  std::vector<std::string> fresh;    // parameters of the model the file does not give (kept as initialised)
  std::vector<std::string> ignored;  // entries of the file the model does not use
  std::string summary() const;
};

// Sets `module`'s parameters from `weights` (our names). A parameter for which `required` holds must
// be there with its shape; the others are taken when present with the right shape, and otherwise
// keep their initial values (a new head, a first fc_norm). Throws mme::FileError naming `file`,
// each missing required key and each shape mismatch (key and both shapes); nothing is changed then.
LoadReport set_weights(torch::nn::Module& module, const std::map<std::string, torch::Tensor>& weights,
                       const std::filesystem::path& file, const std::function<bool(const std::string&)>& required);

// Our names <-> VideoMAE's. `classifier`: VideoMAE's VisionTransformer (no "encoder." prefix).
NamedTensors to_videomae(const NamedTensors& ours, bool classifier);
// Our names -> Hugging Face's (qkv split into query, key and value); names HF has no place for
// (MOFO's pooling, MME's extra heads) go to `unplaced`.
NamedTensors to_hf(const NamedTensors& ours, std::vector<std::string>& unplaced);

// `trainer export`: the whole model of a run's checkpoint, as a torch.save file ({"model": ...}) with
// VideoMAE's names (format "videomae"), or as a Hugging Face directory (format "hf": config.json and
// model.safetensors that VideoMAEForPreTraining / VideoMAEForVideoClassification / VideoMAEModel
// load with from_pretrained). Returns what was written, for the user. Throws mme::FileError.
std::string export_run(const std::filesystem::path& checkpoint, const std::filesystem::path& out,
                       const std::string& format);

}  // namespace trainer
