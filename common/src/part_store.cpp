#include <mme/atomic_file.h>
#include <mme/dir_lock.h>
#include <mme/error.h>
#include <mme/json_file.h>
#include <mme/log.h>
#include <mme/part_store.h>

#include <fmt/format.h>

#include <unistd.h>
#include <cerrno>
#include <cstdio>

#include <algorithm>
#include <fstream>
#include <string_view>

namespace mme {

namespace fs = std::filesystem;

struct PartStore::Part {
  int index = 0;
  fs::path path;
  std::unique_ptr<mme::ShardWriter> writer;
  int assigned = 0, done = 0;
  bool full = false;
  std::vector<VideoRecord> records;
};

nlohmann::json VideoRecord::to_json() const {
  nlohmann::json j = {{"id", id}, {"status", status}};
  if (status == "ok") {
    j["file"] = file;
    for (const auto& [k, v] : stats.items()) j[k] = v;
  } else {
    j["reason"] = reason;
  }
  return j;
}

VideoRecord VideoRecord::from_json(const nlohmann::json& j) {
  VideoRecord r;
  r.id = j.at("id").get<std::string>();
  r.status = j.at("status").get<std::string>();
  r.file = j.value("file", "");
  r.reason = j.value("reason", "");
  for (const auto& [k, v] : j.items())
    if (k != "id" && k != "status" && k != "file" && k != "reason") r.stats[k] = v;
  return r;
}

VideoRecord record_from_group(const mme::GroupReader& g, const std::string& file) {
  VideoRecord r;
  r.id = g.id();
  r.status = "ok";
  r.file = file;
  if (g.has(schema::video::stats)) r.stats = parse_json(g.get(schema::video::stats));
  return r;
}

namespace {

// Published parts of a shard directory, in index order.
// "part-00012.h5" -> 12; -1 for any other name (temporaries, manifests).
int part_index(const std::string& name) {
  constexpr std::string_view prefix = "part-", suffix = ".h5";
  if (name.size() < prefix.size() + suffix.size() + 5 || name.rfind(prefix, 0) != 0 ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return -1;
  const std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  if (digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) return -1;
  return std::stoi(digits);
}

// Reads the records of one published part into `records` (later parts override earlier ones).
void scan_part(const fs::path& part, const fs::path& out_dir, std::map<std::string, VideoRecord>& records) {
  mme::ShardReader reader(part);
  const std::string rel = fs::relative(part, out_dir).string();
  if (reader.has(schema::root::failures)) {
    for (const auto& j : parse_json(reader.get(schema::root::failures))) {
      auto r = VideoRecord::from_json(j);
      auto it = records.find(r.id);
      if (it == records.end() || it->second.status != "ok") records[r.id] = r;
    }
  }
  for (const auto& id : reader.video_ids()) records[id] = record_from_group(reader.video(id), rel);
}

// The records of a shard's manifest.jsonl; a line that does not parse is skipped (mme-verify
// names it; the parts are what counts, and the manifest is rewritten from them).
std::vector<VideoRecord> read_manifest(const fs::path& shard_dir) {
  std::vector<VideoRecord> records;
  std::ifstream manifest(shard_dir / schema::kManifestFile);
  for (std::string line; std::getline(manifest, line);) {
    try {
      records.push_back(VideoRecord::from_json(parse_json(line)));
    } catch (const std::exception&) {
    }
  }
  return records;
}

// Why a part cannot be read, without the path a FileError repeats in front.
std::string reason_of(const std::exception& e) {
  const auto* file_error = dynamic_cast<const FileError*>(&e);
  return file_error ? file_error->reason() : std::string(e.what());
}

// "a.mp4, ...": the first of some videos, to look for.
std::string first_of(const std::vector<std::string>& ids) {
  return ids.front() + (ids.size() > 1 ? ", ..." : "");
}

}  // namespace

std::vector<std::pair<int, fs::path>> published_parts(const fs::path& dir) {
  std::vector<std::pair<int, fs::path>> parts;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (const int index = part_index(e.path().filename().string()); index >= 0) parts.emplace_back(index, e.path());
  std::sort(parts.begin(), parts.end());
  return parts;
}

// The shard directories of an output directory ("shard-IIIII-of-NNNNN"), in order.
std::vector<fs::path> shard_dirs(const fs::path& out_dir) {
  std::vector<fs::path> dirs;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(out_dir, ec))
    if (e.is_directory() && e.path().filename().string().rfind("shard-", 0) == 0) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

PartStore::PartStore(fs::path out_dir, mme::ShardSpec shard, mme::Provenance provenance, int videos_per_part)
    : out_dir_(std::move(out_dir)), provenance_(std::move(provenance)), videos_per_part_(std::max(1, videos_per_part)) {
  shard_dir_ = out_dir_ / shard.stem();
  std::error_code ec;
  fs::create_directories(shard_dir_, ec);
  if (ec) throw mme::OutputError(shard_dir_, "creating", ec.value());
  // One live run per shard: a second one (a re-submitted array task) stops here, before it writes.
  lock_ = std::make_unique<DirectoryLock>(shard_dir_, provenance_.tool);
  // Parts a killed run was writing (under any index) and its half-written manifest.
  mme::remove_stale_temporaries(shard_dir_);
  for (const auto& [index, path] : published_parts(shard_dir_)) {
    try {
      scan_part(path, out_dir_, records_);
    } catch (const std::exception& e) {
      // A published part is complete by construction; one that does not read was damaged later
      // (disk, a cut copy, manual edits). It is moved aside, not deleted (the user may want to look
      // at it, or salvage it), under a name no tool reads as a part; its videos are done again.
      const auto aside = path.string() + ".damaged";
      std::error_code moved;
      fs::rename(path, aside, moved);
      if (moved) throw OutputError(path, "moving aside (it cannot be read)", moved.value());
      mme::log::warn("{}: cannot be read ({}); moved aside as {}, its videos will be done again", path.string(),
                     reason_of(e), fs::path(aside).filename().string());
    }
    next_index_ = std::max(next_index_, index + 1);
  }
  // Videos the last manifest lists as done in parts that are gone (deleted, lost in a copy): they
  // are done again, and said so, naming the part.
  std::map<std::string, std::vector<std::string>> gone;
  for (const auto& r : read_manifest(shard_dir_))
    if (r.status == "ok" && !finished(r.id) && !fs::exists(out_dir_ / r.file) &&
        !fs::exists(out_dir_ / (r.file + ".damaged")))  // moved aside just now, and said so
      gone[r.file].push_back(r.id);
  for (const auto& [file, ids] : gone)
    mme::log::warn("{}: missing; its {} video(s) will be done again ({})", (out_dir_ / file).string(), ids.size(),
                   first_of(ids));
}

PartStore::~PartStore() {
  // Parts still open here were not closed by close(): an exception is unwinding. Their temporary
  // files are removed by ShardWriter's destructor; nothing incomplete becomes visible.
}

bool PartStore::finished(const std::string& id) const {
  auto it = records_.find(id);
  return it != records_.end() && it->second.status == "ok";
}

std::shared_ptr<PartStore::Part> PartStore::acquire() {
  std::lock_guard lock(mutex_);
  if (!current_ || current_->assigned >= videos_per_part_) {
    if (current_) {
      current_->full = true;
      if (current_->done == current_->assigned) commit_locked(*current_);
    }
    auto part = std::make_shared<Part>();
    part->index = next_index_++;
    part->path = shard_dir_ / fmt::format("part-{:05}.h5", part->index);
    part->writer = std::make_unique<mme::ShardWriter>(part->path, provenance_);
    open_.push_back(part);
    current_ = part;
  }
  ++current_->assigned;
  return current_;
}

mme::ShardWriter& PartStore::writer(const std::shared_ptr<Part>& part) {
  return *part->writer;
}

void PartStore::release(const std::shared_ptr<Part>& part, VideoRecord record) {
  std::lock_guard lock(mutex_);
  if (record.status == "ok") record.file = fs::relative(part->path, out_dir_).string();
  part->records.push_back(std::move(record));
  ++part->done;
  if (part->full && part->done == part->assigned) commit_locked(*part);
}

void PartStore::abandon(const std::shared_ptr<Part>& part) {
  std::lock_guard lock(mutex_);
  ++part->done;
  if (part->full && part->done == part->assigned) commit_locked(*part);
}

void PartStore::commit_locked(Part& part) {
  if (!part.writer) return;
  nlohmann::json failures = nlohmann::json::array();
  for (const auto& r : part.records)
    if (r.status != "ok") failures.push_back(r.to_json());
  part.writer->set(schema::root::failures, dump_json(failures));
  part.writer->commit();
  part.writer.reset();
  for (auto& r : part.records) {
    auto it = records_.find(r.id);
    if (r.status == "ok" || it == records_.end() || it->second.status != "ok") records_[r.id] = r;
  }
  open_.erase(std::remove_if(open_.begin(), open_.end(), [&](const auto& p) { return p.get() == &part; }), open_.end());
  write_manifest_locked();
}

void PartStore::write_manifest_locked() {
  std::string text;
  for (const auto& [id, r] : records_) text += dump_json(r.to_json()) + "\n";
  mme::write_atomically(shard_dir_ / schema::kManifestFile, text);
}

void PartStore::close() {
  std::lock_guard lock(mutex_);
  auto parts = open_;
  for (auto& p : parts) {
    // An empty part (every video of it was skipped or interrupted) is not published.
    if (p->records.empty()) {
      p->writer.reset();
      continue;
    }
    p->full = true;
    commit_locked(*p);
  }
  open_.clear();
  current_.reset();
  write_manifest_locked();
}

void PartStore::discard() {
  std::lock_guard lock(mutex_);
  for (auto& p : open_) p->writer.reset();
  open_.clear();
  current_.reset();
}

SetScan scan_set(const fs::path& out_dir) {
  SetScan scan;
  std::map<std::string, std::string> broken;  // part (relative) -> why
  for (const auto& dir : shard_dirs(out_dir)) {
    for (const auto& [part_index, path] : published_parts(dir)) {
      const std::string rel = fs::relative(path, out_dir).string();
      try {
        mme::ShardReader reader(path);
        for (const auto& id : reader.video_ids()) scan.videos.emplace(id, rel);  // the first one wins
      } catch (const std::exception& e) {
        broken[rel] = "cannot be read: " + reason_of(e);
      }
    }
    // The manifest says which videos the parts should hold.
    std::map<std::string, std::vector<std::string>> lost_by_part;
    for (const auto& r : read_manifest(dir)) {
      if (r.status != "ok" || scan.videos.count(r.id)) continue;
      auto why = broken.find(r.file);
      const std::string reason = why != broken.end()            ? why->second
                                 : fs::exists(out_dir / r.file) ? "does not hold it"
                                                                : "is missing";
      scan.lost[r.id] = r.file + " " + reason;
      lost_by_part[r.file + " " + reason].push_back(r.id);
    }
    for (const auto& [part, ids] : lost_by_part)
      scan.problems.push_back(
          fmt::format("{}/{}: its {} video(s) are left out ({}); run flowgen (or trajgen) "
                      "again to redo them",
                      out_dir.string(), part, ids.size(), first_of(ids)));
  }
  for (const auto& entry : broken) {
    const std::string named = entry.first + " ";  // (clang cannot capture a structured binding)
    if (std::none_of(scan.problems.begin(), scan.problems.end(),
                     [&](const std::string& p) { return p.find(named) != std::string::npos; }))
      scan.problems.push_back(fmt::format("{}/{} {}", out_dir.string(), entry.first, entry.second));
  }
  return scan;
}

std::map<std::string, std::string> scan_videos(const fs::path& out_dir) {
  auto scan = scan_set(out_dir);
  for (const auto& problem : scan.problems) mme::log::warn("{}", problem);
  return std::move(scan.videos);
}

std::size_t merge_index(const fs::path& out_dir, const std::string& settings_file) {
  const auto settings_path = out_dir / settings_file;
  if (!fs::exists(settings_path))
    throw mme::FileError(out_dir, "not an output directory of ours (no " + settings_file + ")");
  nlohmann::json index = {{"settings", read_json_file(settings_path)}};
  nlohmann::json videos = nlohmann::json::object(), failed = nlohmann::json::object();
  for (const auto& dir : shard_dirs(out_dir)) {
    std::map<std::string, VideoRecord> records;
    for (const auto& [part_index, path] : published_parts(dir)) {
      try {
        scan_part(path, out_dir, records);
      } catch (const std::exception& e) {  // its videos are left out of the index (flowgen redoes them)
        mme::log::warn("{}: left out of the index: {}", path.string(), e.what());
      }
    }
    for (const auto& [id, r] : records) {
      if (r.status == "ok") {
        if (videos.contains(id)) {
          mme::log::warn("{} is in {} and {}: keeping the first", id, videos[id]["file"].get<std::string>(), r.file);
        } else {
          nlohmann::json entry = r.stats;
          entry["file"] = r.file;
          videos[id] = entry;
        }
        failed.erase(id);
      } else if (!videos.contains(id)) {
        failed[id] = r.reason;
      }
    }
  }
  index["videos"] = videos;
  index["failed"] = failed;
  mme::write_atomically(out_dir / schema::kIndexFile, dump_json(index, 1) + "\n");
  return videos.size();
}

nlohmann::json output_identity(const fs::path& out_dir, const std::string& settings_file,
                               const std::map<std::string, std::string>& videos) {
  const auto settings_path = out_dir / settings_file;
  if (!fs::exists(settings_path))
    throw FileError(out_dir, fmt::format("not a finished output directory (no {})", settings_file));
  const auto settings = read_json_file(settings_path);
  std::string all;
  for (const auto& [id, file] : videos) all += id + '\n' + file + '\n';
  return {{"settings", settings}, {"videos", videos.size()}, {"hash", fmt::format("{:016x}", fnv1a64(all))}};
}

void claim_output_dir(const fs::path& out_dir, const std::string& file, const nlohmann::json& settings,
                      const std::vector<std::string>& may_change) {
  // What is compared: the settings without the values that may change.
  const auto compared = [&](const nlohmann::json& j) {
    if (!j.is_object() || may_change.empty()) return j;
    auto flat = j.flatten();
    for (const auto& pointer : may_change) flat.erase(pointer);
    return flat.unflatten();
  };
  const auto mine = compared(settings);
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) throw mme::OutputError(out_dir, "creating", ec.value());
  const auto path = out_dir / file;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (fs::exists(path)) {
      const auto theirs = compared(read_json_file(path));
      std::string diffs;
      for (const auto& [key, value] : mine.items()) {
        const auto it = theirs.find(key);
        if (it == theirs.end() || *it != value)
          diffs += fmt::format("\n  {}: this directory has {}, this run asks for {}", key,
                               it == theirs.end() ? "nothing" : dump_json(*it), dump_json(value));
      }
      if (!diffs.empty())
        throw mme::FileError(out_dir, "holds results made with other settings:" + diffs +
                                          "\nUse another output directory, or the settings above to resume.");
      return;
    }
    // First run: publish atomically; link() fails if a concurrent task (another array job) was
    // first, and then we compare with what it wrote.
    const auto tmp = mme::temporary_name(path);
    {
      const auto text = dump_json(settings, 2) + "\n";
      std::FILE* out = std::fopen(tmp.c_str(), "wb");
      if (!out) throw mme::OutputError(path, "creating", errno);
      const bool written = std::fwrite(text.data(), 1, text.size(), out) == text.size();
      const int err = errno;
      if (std::fclose(out) != 0 || !written) {
        fs::remove(tmp, ec);
        throw mme::OutputError(path, "writing", written ? errno : err);
      }
    }
    const int rc = ::link(tmp.c_str(), path.c_str());
    fs::remove(tmp, ec);
    if (rc == 0) return;
  }
  throw mme::FileError(path, "cannot create the settings file");
}

}  // namespace mme
