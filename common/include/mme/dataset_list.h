#pragma once
// Dataset lists in the VideoMAE convention: one video per line, `path [label]`, separated by spaces
// or a comma, `#` starts a comment, blank lines are skipped, paths are relative to --root (absolute
// paths are kept). The id of a video is its path exactly as written in the list: shards, targets and
// the trainer all key videos by it.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mme {

struct ListEntry {
  std::string id;              // the path as written in the list
  std::filesystem::path path;  // root / id (or id when absolute)
  std::optional<std::int64_t> label;
  std::size_t line = 0;  // 1-based line number in the list file
};

// Parses one line; returns nothing for blank and comment lines. Throws std::invalid_argument with
// the reason for a malformed line.
std::optional<ListEntry> parse_list_line(std::string_view line, const std::filesystem::path& root);

// Reads a list file. Throws FileError naming the list file, the line number and the reason for a
// malformed line or a video listed twice.
std::vector<ListEntry> read_dataset_list(const std::filesystem::path& list_file, const std::filesystem::path& root);

// `--shard I/N`: shard I (0-based) of N. Membership depends only on a video's id (a 64-bit FNV-1a
// hash modulo N), so it is stable when the list is reordered or grows, and every video falls into
// exactly one shard.
struct ShardSpec {
  int index = 0;
  int count = 1;

  // Parses "I/N"; throws std::invalid_argument with the reason.
  static ShardSpec parse(std::string_view text);
  bool contains(std::string_view id) const;
  std::string to_string() const;  // "I/N"
  // Zero-padded file stem, e.g. "shard-00003-of-00016".
  std::string stem() const;
};

std::vector<ListEntry> select_shard(const std::vector<ListEntry>& entries, const ShardSpec& shard);

// 64-bit FNV-1a; stable across platforms and releases (it decides shard membership).
std::uint64_t fnv1a64(std::string_view bytes);

}  // namespace mme
