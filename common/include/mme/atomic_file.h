#pragma once
// Whole small files (manifests, reports, exported weights, pictures) written under a temporary
// name and published by rename: a reader, or a run killed mid-write, sees the old file or the new
// one, never half of one.
#include <filesystem>
#include <string_view>

namespace mme {

// Writes `bytes` to `path` (binary), replacing an older file. Throws FileError naming the file and
// the reason.
void write_atomically(const std::filesystem::path& path, std::string_view bytes);

}  // namespace mme
