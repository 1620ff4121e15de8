#pragma once
// Where a batch tool's results go (flowgen, trajgen), and how a killed run resumes.
//
//   OUTDIR/<tool>.json                       the settings (claim_output_dir)
//   OUTDIR/shard-IIIII-of-NNNNN/part-PPPPP.h5  published parts: each holds up to --part-videos
//                                            complete videos and the failures met meanwhile
//   OUTDIR/shard-IIIII-of-NNNNN/manifest.jsonl one line per video of the shard (rewritten after
//                                            every part, atomically)
//   OUTDIR/index.json                        all shards as one dataset (merge_index)
//
// A part is written under a temporary name and published by rename only when every video in it
// is complete, so after a SIGKILL the visible parts hold only complete videos; a re-run scans them,
// skips those videos and writes new parts for the rest. Videos run concurrently, so a part is
// committed when it is full and its last video is done. A PartStore holds the shard directory's
// lock (dir_lock.h) for its lifetime: one live run per shard.
#include <mme/dataset_list.h>
#include <mme/shard_store.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace mme {

class DirectoryLock;

// One line of the manifest.
struct VideoRecord {
  std::string id;
  std::string status;  // "ok" or "failed"
  std::string file;    // part file, relative to OUTDIR (ok only)
  std::string reason;  // failed only
  // Tool-specific numbers (frames, pairs, timings...): a JSON object, stored with the video as
  // its group attribute "stats" so that the manifest can be rebuilt from the parts alone.
  nlohmann::json stats = nlohmann::json::object();

  nlohmann::json to_json() const;
  static VideoRecord from_json(const nlohmann::json& j);
};

// The record of a finished video, read back from its group.
VideoRecord record_from_group(const mme::GroupReader& group, const std::string& file);

class PartStore {
 public:
  struct Part;

  PartStore(std::filesystem::path out_dir, mme::ShardSpec shard, mme::Provenance provenance, int videos_per_part);
  ~PartStore();

  // Records of this shard's videos found in published parts (latest wins).
  const std::map<std::string, VideoRecord>& records() const { return records_; }
  bool finished(const std::string& id) const;

  // The part a new video writes into.
  std::shared_ptr<Part> acquire();
  mme::ShardWriter& writer(const std::shared_ptr<Part>& part);
  // The video is complete (or failed: its group must be gone). Commits the part when it is full
  // and idle.
  void release(const std::shared_ptr<Part>& part, VideoRecord record);
  // A video that was interrupted: its group must be gone; it leaves no record.
  void abandon(const std::shared_ptr<Part>& part);
  // Commits every open part and rewrites the manifest. Throws FileError.
  void close();
  // After an output failure (OutputError): drops every open part unpublished (their temporaries
  // removed); the published parts and the manifest on disk stay as they are, so a re-run resumes.
  void discard();

  const std::filesystem::path& shard_dir() const { return shard_dir_; }

 private:
  void commit_locked(Part& part);
  void write_manifest_locked();

  std::filesystem::path out_dir_, shard_dir_;
  std::unique_ptr<DirectoryLock> lock_;
  mme::Provenance provenance_;
  int videos_per_part_;
  int next_index_ = 0;
  std::map<std::string, VideoRecord> records_;
  std::vector<std::shared_ptr<Part>> open_;
  std::shared_ptr<Part> current_;
  std::mutex mutex_;
};

// Scans every shard directory of OUTDIR and writes OUTDIR/index.json: {"settings": the content
// of OUTDIR/<settings_file>, "videos": {id: {"file", ...stats}}, "failed": {id: reason}}.
// Returns the number of videos.
std::size_t merge_index(const std::filesystem::path& out_dir, const std::string& settings_file);

// The published parts of a shard directory (index, path), in order; temporaries are not listed.
std::vector<std::pair<int, std::filesystem::path>> published_parts(const std::filesystem::path& shard_dir);
// The shard directories of an output directory ("shard-IIIII-of-NNNNN"), in order.
std::vector<std::filesystem::path> shard_dirs(const std::filesystem::path& out_dir);

// What a set holds, read from its parts, and what its manifests promise that the parts do not
// deliver: a part that is gone or cannot be read is one part's problem, not the set's.
struct SetScan {
  std::map<std::string, std::string> videos;  // id -> part file (relative to OUTDIR), readable parts only
  // Videos a manifest lists as finished in a part that is missing or unreadable (and that no
  // readable part holds): id -> why, naming the part ("shard-00000-of-00001/part-00003.h5 is
  // missing" / "... cannot be read: truncated file").
  std::map<std::string, std::string> lost;
  // One line per such part: the part, why, and how many of the manifest's videos it took along.
  std::vector<std::string> problems;
};
SetScan scan_set(const std::filesystem::path& out_dir);

// scan_set's videos, each problem logged as a warning.
std::map<std::string, std::string> scan_videos(const std::filesystem::path& out_dir);

// The identity of a finished output directory, for the tools downstream of it: {"settings": the
// content of OUTDIR/<settings_file>, "videos": how many, "hash": FNV-1a of the video -> part map}.
// It changes whenever the set does. `videos` is scan_videos(OUTDIR). Throws FileError when
// OUTDIR has no settings file.
nlohmann::json output_identity(const std::filesystem::path& out_dir, const std::string& settings_file,
                               const std::map<std::string, std::string>& videos);

// Claims OUTDIR for one set of settings: creates OUTDIR/<file> (atomically, first writer wins), or
// checks an existing one. Throws FileError naming every setting that differs (old and new value).
// `may_change`: JSON pointers of values that are not settings but a record the tool keeps current
// (trajgen: the videos and hash of its flow set, which grows or is repaired), not compared.
void claim_output_dir(const std::filesystem::path& out_dir, const std::string& file, const nlohmann::json& settings,
                      const std::vector<std::string>& may_change = {});

}  // namespace mme
