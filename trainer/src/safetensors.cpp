#include <trainer/safetensors.h>

#include <mme/atomic_file.h>
#include <mme/checked_size.h>
#include <mme/error.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <fstream>

namespace trainer {

namespace fs = std::filesystem;

namespace {

const std::vector<std::pair<std::string, torch::ScalarType>>& dtypes() {
  static const std::vector<std::pair<std::string, torch::ScalarType>> table{
      {"F64", torch::kFloat64}, {"F32", torch::kFloat32}, {"F16", torch::kFloat16}, {"BF16", torch::kBFloat16},
      {"I64", torch::kInt64},   {"I32", torch::kInt32},   {"I16", torch::kInt16},   {"I8", torch::kInt8},
      {"U8", torch::kUInt8},    {"BOOL", torch::kBool}};
  return table;
}

// A header larger than this is not a model's (transformers refuses 100 MB too).
constexpr std::uint64_t kMaxHeader = 100u << 20;

}  // namespace

NamedTensors read_safetensors(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw mme::FileError(file, "cannot open the safetensors file");
  in.seekg(0, std::ios::end);
  const auto file_size = static_cast<std::uint64_t>(in.tellg());
  in.seekg(0);
  return read_safetensors(in, file_size, file);
}

NamedTensors read_safetensors(std::istream& in, std::uint64_t file_size, const fs::path& file) {
  unsigned char prefix[8] = {};
  if (file_size < 8 || !in.read(reinterpret_cast<char*>(prefix), 8))
    throw mme::FileError(file, "is too short for a safetensors file");
  std::uint64_t header_size = 0;
  for (int i = 0; i < 8; ++i) header_size |= static_cast<std::uint64_t>(prefix[i]) << (8 * i);
  if (header_size > kMaxHeader || header_size > file_size - 8)
    throw mme::FileError(
        file, fmt::format("its header length ({} bytes) is impossible for a file of {} bytes", header_size, file_size));
  std::string header(header_size, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_size));
  nlohmann::ordered_json j;
  try {
    j = nlohmann::ordered_json::parse(header);
  } catch (const std::exception& e) {
    throw mme::FileError(file, fmt::format("its header is not JSON: {}", e.what()));
  }
  if (!j.is_object()) throw mme::FileError(file, "its header is not a JSON object");
  const auto data_start = 8 + header_size, data_size = file_size - data_start;
  NamedTensors out;
  for (const auto& [name, entry] : j.items()) {
    if (name == "__metadata__") continue;
    try {
      const auto dtype_name = entry.at("dtype").get<std::string>();
      const auto shape = entry.at("shape").get<std::vector<std::int64_t>>();
      const auto offsets = entry.at("data_offsets").get<std::vector<std::uint64_t>>();
      const auto found =
          std::find_if(dtypes().begin(), dtypes().end(), [&](const auto& d) { return d.first == dtype_name; });
      if (found == dtypes().end()) throw std::invalid_argument("dtype " + dtype_name + " is not supported");
      for (const auto d : shape)
        if (d < 0) throw std::invalid_argument(fmt::format("shape {} has a negative dimension", fmt::join(shape, "x")));
      constexpr std::uint64_t kMaxElements = std::uint64_t{1} << 40;
      const auto count = mme::checked_product(shape, kMaxElements);
      if (!count)
        throw std::invalid_argument(fmt::format("shape {} holds more than 2^40 elements", fmt::join(shape, "x")));
      if (offsets.size() != 2 || offsets[0] > offsets[1] || offsets[1] > data_size)
        throw std::invalid_argument(fmt::format("its byte range lies outside the file's {} data bytes", data_size));
      const auto bytes = offsets[1] - offsets[0];
      if (bytes != *count * c10::elementSize(found->second))
        throw std::invalid_argument(fmt::format("{} bytes for {} elements of {}", bytes, *count, dtype_name));
      auto tensor = torch::empty(shape, torch::TensorOptions().dtype(found->second));
      in.seekg(static_cast<std::streamoff>(data_start + offsets[0]));
      if (!in.read(static_cast<char*>(tensor.data_ptr()), static_cast<std::streamsize>(bytes)))
        throw std::invalid_argument("the data cannot be read");
      out.emplace_back(name, tensor);
    } catch (const std::exception& e) {
      throw mme::FileError(file, fmt::format("tensor {}: {}", name, e.what()));
    }
  }
  return out;
}

void write_safetensors(const fs::path& file, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header;
  header["__metadata__"] = metadata;
  std::vector<torch::Tensor> data;
  std::uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    auto t = tensor.detach().to(torch::kCPU).contiguous();
    const auto found =
        std::find_if(dtypes().begin(), dtypes().end(), [&](const auto& d) { return d.second == t.scalar_type(); });
    if (found == dtypes().end())
      throw mme::FileError(file, fmt::format("tensor {}: its dtype has no safetensors name", name));
    const auto bytes = static_cast<std::uint64_t>(t.nbytes());
    header[name] = {{"dtype", found->first}, {"shape", t.sizes().vec()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    data.push_back(t);
  }
  auto text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the data starts 8-byte aligned
  char length[8];
  for (int i = 0; i < 8; ++i)
    length[i] = static_cast<char>((static_cast<std::uint64_t>(text.size()) >> (8 * i)) & 0xff);
  mme::AtomicWriter out(file);  // each tensor written as it is (not copied into one buffer first)
  out.write(length, sizeof length);
  out.write(text.data(), text.size());
  for (const auto& t : data) out.write(t.data_ptr(), t.nbytes());
  out.commit();
}

}  // namespace trainer
