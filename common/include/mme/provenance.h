#pragma once
// What every shard records about how it was made, so that a result can be traced and a re-run
// with other settings can be refused: the tool, its version and git commit, all its settings (as
// JSON), when and where; per video, the source file's size and modification time.
#include <cstdint>
#include <filesystem>
#include <string>

namespace mme {

struct Provenance {
  std::string tool;           // e.g. "flowgen"
  std::string settings_json;  // every setting that affects the content, as a JSON object
};

struct SourceStat {
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;  // nanoseconds since the Unix epoch
  // Throws FileError when the file cannot be stat'ed.
  static SourceStat of(const std::filesystem::path& file);
  bool operator==(const SourceStat&) const = default;
};

// "2026-11-22T13:05:00Z"
std::string utc_timestamp();
std::string host_name();

}  // namespace mme
