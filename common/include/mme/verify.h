#pragma once
// `mme-verify DIR`: checks a flow or target set as it lies on disk, e.g. after a copy between
// clusters: every published part opens, every chunk of every dataset of every video reads and
// decodes (which checks its CRC-32C, Fletcher-32 or Adler-32: formats.md, "Integrity"), and each
// shard's manifest agrees with its parts (every "ok" video is in the part it names; every video of
// a part is in the manifest). Parts are checked `threads` at a time.
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace mme {

struct VerifyReport {
  std::size_t parts = 0, videos = 0, datasets = 0, chunks = 0;
  std::uint64_t bytes = 0;           // stored bytes of the chunks read
  std::vector<std::string> damaged;  // one line per problem: "PART: video ID: dataset D, chunk [..]: why"
};

// Throws FileError when DIR is not a flowgen or trajgen output directory.
VerifyReport verify_output(const std::filesystem::path& dir, int threads);

}  // namespace mme
