#include <trainer/torch_error.h>
#include <trainer/videomae_io.h>

#include <mme/atomic_file.h>
#include <mme/error.h>

#include <caffe2/serialize/inline_container.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/csrc/jit/serialization/export.h>
#include <torch/csrc/jit/serialization/pickler.h>

#include <fstream>
#include <iterator>
#include <map>

namespace trainer {

namespace fs = std::filesystem;

namespace {

constexpr const char* kPrefix = "encoder.";

// The encoder's weights by VideoMAE name (its buffers, the position table, are not weights).
std::vector<std::pair<std::string, torch::Tensor>> weights(Encoder& encoder) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& p : encoder->named_parameters()) out.emplace_back(p.key(), p.value());
  return out;
}

// The dict of tensors inside a loaded pickle: the state_dict, or the one under a usual key.
c10::Dict<c10::IValue, c10::IValue> state_dict(const c10::IValue& root, const fs::path& file) {
  if (!root.isGenericDict()) throw mme::FileError(file, "does not hold a dict (a state_dict)");
  auto dict = root.toGenericDict();
  for (const char* key : {"model", "module", "state_dict"}) {
    const auto it = dict.find(c10::IValue(std::string(key)));
    if (it != dict.end() && it->value().isGenericDict()) return it->value().toGenericDict();
  }
  return dict;
}

// torch.save's format (a zip of data.pkl and one record per storage), which Python's torch.load
// reads with its default weights_only=True. torch::pickle_save writes the same container but tags
// typed dicts with torch.jit._pickle.restore_type_tag, a global weights_only refuses: the pickle
// is written here without those tags.
std::vector<char> torch_save_bytes(const c10::IValue& value) {
  std::vector<char> pickle;
  torch::jit::Pickler pickler(
      [&](const char* data, std::size_t size) { pickle.insert(pickle.end(), data, data + size); }, nullptr, nullptr,
      nullptr, nullptr, /*tag_aggregates=*/false);
  pickler.protocol();
  pickler.pushIValue(value);
  pickler.stop();
  std::vector<char> out;
  caffe2::serialize::PyTorchStreamWriter writer([&](const void* data, std::size_t size) {
    const auto* bytes = static_cast<const char*>(data);
    out.insert(out.end(), bytes, bytes + size);
    return size;
  });
  torch::jit::writeArchiveAndTensors("data", pickle.data(), pickle.size(), pickler.tensorData(), writer);
  writer.writeEndOfFile();
  return out;
}

}  // namespace

void export_encoder(Encoder& encoder, const fs::path& file) {
  c10::Dict<std::string, torch::Tensor> tensors;
  for (const auto& [name, tensor] : weights(encoder))
    tensors.insert(kPrefix + name, tensor.detach().to(torch::kCPU).contiguous().clone());
  c10::Dict<std::string, c10::Dict<std::string, torch::Tensor>> root;
  root.insert("model", tensors);
  const auto bytes = torch_save_bytes(c10::IValue(root));
  mme::write_atomically(file, std::string_view(bytes.data(), bytes.size()));
}

int set_encoder_weights(Encoder& encoder, const std::map<std::string, torch::Tensor>& tensors, const fs::path& file) {
  std::vector<std::string> problems;
  const auto mine = weights(encoder);
  for (const auto& [name, tensor] : mine) {
    const auto it = tensors.find(name);
    if (it == tensors.end())
      problems.push_back(fmt::format("{} missing", name));
    else if (it->second.sizes() != tensor.sizes())
      problems.push_back(fmt::format("{} is {} in the file, {} here", name, it->second.sizes(), tensor.sizes()));
  }
  if (!problems.empty()) {
    // The first few differences say what is wrong; a whole ViT's list would bury it.
    constexpr std::size_t shown = 4;
    const auto more = problems.size() > shown ? fmt::format("; and {} more", problems.size() - shown) : "";
    problems.resize(std::min(problems.size(), shown));
    throw mme::FileError(file, fmt::format("does not fit this encoder (check model_preset and model.*): {}{}",
                                           fmt::join(problems, "; "), more));
  }
  torch::NoGradGuard no_grad;
  for (const auto& [name, tensor] : mine) tensor.copy_(tensors.at(name));
  return static_cast<int>(mine.size());
}

ImportReport import_encoder(Encoder& encoder, const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw mme::FileError(file, "cannot open the weights file");
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  c10::IValue root;
  try {
    root = torch::pickle_load(bytes);
  } catch (const std::exception& e) {
    throw mme::FileError(file, fmt::format("not a torch.save file of tensors ({}); re-save only the weights in Python: "
                                           "torch.save({{\"model\": ckpt[\"model\"]}}, \"weights.pth\")",
                                           error_message(e)));
  }
  std::map<std::string, torch::Tensor> found;
  ImportReport report;
  for (const auto& item : state_dict(root, file)) {
    if (!item.key().isString() || !item.value().isTensor()) continue;
    auto key = item.key().toStringRef();
    if (key.rfind(kPrefix, 0) == 0) key = key.substr(std::string(kPrefix).size());
    found[key] = item.value().toTensor();
  }
  report.loaded = set_encoder_weights(encoder, found, file);
  const auto mine = encoder->named_parameters();
  for (const auto& [name, tensor] : found)
    if (!mine.contains(name)) report.unused.push_back(name);
  return report;
}

}  // namespace trainer
