#include <mme/json_file.h>
#include <mme/error.h>
#include <mme/part_store.h>
#include <mme/shard_schema.h>
#include <mme/shard_store.h>
#include <mme/verify.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace mme {

namespace fs = std::filesystem;

namespace {

// A dataset's chunks beyond this many damaged ones are counted, not listed.
constexpr int kListedPerDataset = 3;

// Every chunk offset of a chunked dataset, in row-major order.
std::vector<std::vector<std::uint64_t>> chunk_offsets(const DatasetInfo& info) {
  std::vector<std::vector<std::uint64_t>> out;
  const auto rank = info.shape.size();
  for (std::size_t d = 0; d < rank; ++d)
    if (info.shape[d] == 0) return out;
  std::vector<std::uint64_t> at(rank, 0);
  for (;;) {
    out.push_back(at);
    std::size_t d = rank;
    while (d > 0) {
      --d;
      at[d] += info.chunk[d];
      if (at[d] < info.shape[d]) break;
      at[d] = 0;
      if (d == 0) return out;
    }
    if (rank == 0) return out;
  }
}

struct PartResult {
  std::size_t videos = 0, datasets = 0, chunks = 0;
  std::uint64_t bytes = 0;
  std::vector<std::string> damaged;
  std::set<std::string> ids;
};

PartResult check_part(const fs::path& part) {
  PartResult r;
  std::unique_ptr<ShardReader> reader;
  try {
    reader = std::make_unique<ShardReader>(part);
  } catch (const std::exception& e) {
    r.damaged.push_back(fmt::format("{}: does not open: {}", part.string(), e.what()));
    return r;
  }
  std::vector<std::string> ids;
  try {
    ids = reader->video_ids();
  } catch (const std::exception& e) {
    r.damaged.push_back(fmt::format("{}: its videos cannot be listed: {}", part.string(), e.what()));
    return r;
  }
  for (const auto& id : ids) {
    ++r.videos;
    r.ids.insert(id);
    try {
      const auto video = reader->video(id);
      for (const auto& name : video.dataset_names()) {
        ++r.datasets;
        const auto ds = video.dataset(name);
        const auto& info = ds.info();
        if (info.chunk.empty()) {  // contiguous (small) datasets: one read
          ds.read_bytes(info.dtype);
          continue;
        }
        int bad = 0;
        for (const auto& offset : chunk_offsets(info)) {
          ++r.chunks;
          try {
            std::uint32_t mask = 0;
            const auto encoded = ds.read_encoded_chunk(offset, &mask);
            r.bytes += encoded.size();
            ds.decode_chunk(encoded, mask);
          } catch (const std::exception& e) {
            if (++bad <= kListedPerDataset)
              r.damaged.push_back(fmt::format("{}: video {}: dataset {}, chunk [{}]: {}", part.string(), id, name,
                                              fmt::join(offset, ", "), e.what()));
          }
        }
        if (bad > kListedPerDataset)
          r.damaged.push_back(fmt::format("{}: video {}: dataset {}: {} more damaged chunks", part.string(), id, name,
                                          bad - kListedPerDataset));
      }
    } catch (const std::exception& e) {
      r.damaged.push_back(fmt::format("{}: video {}: {}", part.string(), id, e.what()));
    }
  }
  return r;
}

}  // namespace

VerifyReport verify_output(const fs::path& dir, int threads) {
  if (!fs::exists(dir / schema::kFlowSettingsFile) && !fs::exists(dir / schema::kTargetSettingsFile))
    throw FileError(dir, fmt::format("is not a flow or target set (no {} or {})", schema::kFlowSettingsFile,
                                     schema::kTargetSettingsFile));
  std::vector<fs::path> parts;
  const auto shards = shard_dirs(dir);
  for (const auto& shard : shards)
    for (const auto& [index, path] : published_parts(shard)) parts.push_back(path);

  std::vector<PartResult> results(parts.size());
  std::atomic<std::size_t> next{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < std::max(1, threads); ++t)
    pool.emplace_back([&] {
      for (std::size_t i; (i = next++) < parts.size();) results[i] = check_part(parts[i]);
    });
  for (auto& t : pool) t.join();

  VerifyReport report;
  report.parts = parts.size();
  std::map<std::string, std::set<std::string>> ids_of;  // part (relative to DIR) -> its videos
  for (std::size_t i = 0; i < parts.size(); ++i) {
    auto& r = results[i];
    report.videos += r.videos;
    report.datasets += r.datasets;
    report.chunks += r.chunks;
    report.bytes += r.bytes;
    report.damaged.insert(report.damaged.end(), r.damaged.begin(), r.damaged.end());
    ids_of[fs::relative(parts[i], dir).string()] = std::move(r.ids);
  }
  // Each shard's manifest against its parts.
  for (const auto& shard : shards) {
    const auto manifest = shard / schema::kManifestFile;
    std::ifstream in(manifest);
    if (!in) {
      report.damaged.push_back(fmt::format("{}: missing", manifest.string()));
      continue;
    }
    std::set<std::string> listed;
    int line_number = 0;
    for (std::string line; std::getline(in, line);) {
      ++line_number;
      if (line.empty()) continue;
      try {
        const auto record = VideoRecord::from_json(parse_json(line));
        listed.insert(record.id);
        if (record.status != "ok") continue;
        const auto it = ids_of.find(record.file);
        if (it == ids_of.end())
          report.damaged.push_back(fmt::format("{}: line {}: video {} is in {}, which is not there", manifest.string(),
                                               line_number, record.id, record.file));
        else if (!it->second.count(record.id))
          report.damaged.push_back(fmt::format("{}: line {}: video {} is not in {}", manifest.string(), line_number,
                                               record.id, record.file));
      } catch (const std::exception& e) {
        report.damaged.push_back(fmt::format("{}: line {}: {}", manifest.string(), line_number, e.what()));
      }
    }
    for (const auto& [file, ids] : ids_of) {
      if (fs::path(dir / file).parent_path() != shard) continue;
      for (const auto& id : ids)
        if (!listed.count(id))
          report.damaged.push_back(
              fmt::format("{}: video {} of {} is not in the manifest", manifest.string(), id, file));
    }
  }
  return report;
}

}  // namespace mme
