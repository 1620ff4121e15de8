#pragma once
// Durable publishing: a file is written under a temporary name next to its final one, then
// published by publish_file: fsync the file, rename it over the final name, fsync the directory.
// A reader, or a run killed at any point (power loss included, on file systems that honour
// fsync), sees the old file or the new one, never half of one. Every file the tools publish goes
// through here: shards, checkpoints, manifests, reports, exported weights, pictures.
#include <filesystem>
#include <string_view>

namespace mme {

// Publishes the complete, closed file `temp` as `path` (replacing an older file there). Throws
// FileError naming the file and the reason; `temp` is left in place then.
void publish_file(const std::filesystem::path& temp, const std::filesystem::path& path);

// Writes `bytes` to `path` (binary) under a temporary name and publishes it. Throws FileError
// naming the file and the reason (a full disk: "cannot write ...: No space left on device").
void write_atomically(const std::filesystem::path& path, std::string_view bytes);

// fsync of a file or a directory; throws FileError.
void fsync_path(const std::filesystem::path& path, bool directory);

}  // namespace mme
