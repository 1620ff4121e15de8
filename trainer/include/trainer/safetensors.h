#pragma once
// Hugging Face's safetensors format: an 8-byte little-endian header length, a JSON header naming
// each tensor's dtype, shape and byte range, then the raw little-endian data. It is what
// `transformers`' save_pretrained writes (model.safetensors) and from_pretrained reads.
#include <trainer/torch_file.h>

#include <cstdint>
#include <filesystem>
#include <istream>
#include <map>
#include <string>

namespace trainer {

// Reads every tensor, in the header's order. Throws mme::FileError naming the file and the reason
// (a range outside the file, an unknown dtype, a size that does not match the shape).
NamedTensors read_safetensors(const std::filesystem::path& file);
// The same from a stream of `size` bytes (`file` names it in the messages); for tests and fuzzing.
NamedTensors read_safetensors(std::istream& in, std::uint64_t size, const std::filesystem::path& file);

// Writes the tensors (from the CPU, contiguous) with the given metadata (transformers wants
// {"format": "pt"}), atomically. Throws mme::FileError.
void write_safetensors(const std::filesystem::path& file, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata);

}  // namespace trainer
