#pragma once
// Exchanging encoder weights with PyTorch (VideoMAE's code and checkpoints).
//
// export_encoder writes what `torch.load` reads in Python: {"model": {key: tensor}} with VideoMAE's
// pretraining key names ("encoder.patch_embed.proj.weight", "encoder.blocks.0.attn.qkv.weight",
// "encoder.blocks.0.attn.q_bias", ..., "encoder.norm.weight"), the layout VideoMAE's fine-tuning
// script loads (it strips "encoder."). The fixed sin-cos position table is not a weight in either.
//
// import_encoder reads such a file, or one saved by `torch.save` in Python holding only tensors
// and dicts: the state_dict itself, or under "model", "module" or "state_dict"; keys with or
// without the "encoder." prefix. Python objects other than tensors (VideoMAE's checkpoints also
// pickle their argparse namespace) cannot be read from C++: keep only the weights first,
//   ckpt = torch.load("videomae.pth", map_location="cpu"); torch.save({"model": ckpt["model"]}, "weights.pth")
#include <trainer/model.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace trainer {

// Throws mme::FileError when the file cannot be written.
void export_encoder(Encoder& encoder, const std::filesystem::path& file);

struct ImportReport {
  int loaded = 0;                   // encoder tensors set from the file
  std::vector<std::string> unused;  // keys of the file that are not encoder weights (decoder, heads)
};

// Sets every encoder weight from `tensors` (VideoMAE names without "encoder."), which came from
// `file`. Throws mme::FileError naming the file and each missing key or shape mismatch (nothing is
// changed then). Returns the number of weights set.
int set_encoder_weights(Encoder& encoder, const std::map<std::string, torch::Tensor>& tensors,
                        const std::filesystem::path& file);

// Sets every encoder weight from the file. Throws mme::FileError naming the file and each missing
// key or shape mismatch (nothing is changed then).
ImportReport import_encoder(Encoder& encoder, const std::filesystem::path& file);

}  // namespace trainer
