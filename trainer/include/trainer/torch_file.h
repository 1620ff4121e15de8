#pragma once
// Files that Python's `torch.save` writes and reads, without Python.
//
// Reading: the weights of a checkpoint as VideoMAE, MME, MOFO or anyone's training script saves it:
// a bare state_dict, or one under "model", "module", "state_dict" (OrderedDicts or dicts), beside
// entries such as the argparse Namespace of the run, the epoch and the optimiser's state. The pickle
// is read by a restricted unpickler of our own: it builds dicts, lists, tuples, numbers, strings and
// tensors, and keeps any other Python object (a Namespace, a numpy scalar) as an opaque placeholder
// without running anything, so a file from a stranger can only fail to read, never run code. Every
// length, offset and stride is checked against the data the file holds.
//
// Writing: a dict of tensors in torch.save's zip format, which `torch.load` reads with its default
// weights_only=True.
#include <torch/torch.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace trainer {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

struct StateDictFile {
  NamedTensors tensors;              // the state_dict's tensors, in the file's order
  std::string under;                 // the entry it was found under ("model"), empty for a bare one
  std::vector<std::string> ignored;  // the other entries, with their types: "epoch (int)", "args (argparse.Namespace)"
};

// Reads a torch.save file (the zip format of PyTorch >= 1.6). Throws mme::FileError naming the file
// and what is wrong with it.
StateDictFile read_state_dict(const std::filesystem::path& file);
// The same from the bytes of such a file (`name` for the messages); for tests and fuzzing.
StateDictFile read_state_dict_bytes(const std::string& bytes, const std::filesystem::path& name);

// The bytes of torch.save({under: {name: tensor}}) (or of the bare dict when `under` is empty);
// tensors are written from the CPU, contiguous.
std::vector<char> torch_save_bytes(const NamedTensors& tensors, const std::string& under);

// Writes those bytes to `file` atomically. Throws mme::FileError.
void write_state_dict(const std::filesystem::path& file, const NamedTensors& tensors, const std::string& under);

}  // namespace trainer
