#pragma once
// The HDF5 shard store shared by every tool (layout: docs/formats.md; names: mme/shard_schema.h).
//
//   /                 attributes: format, format_version, tool, tool_version, git_commit,
//                     settings (JSON), created, host
//   /videos/<key>     one group per video; attribute `id` = the path from the dataset list;
//                     <key> is the id with '%' and '/' percent-escaped, so it stays readable
//   /videos/<key>/... chunked datasets (mme/shard_dataset.h) and attributes written by the tool
//
// ShardWriter writes to "<final>.tmp-<host>-<pid>.<n>" and publishes it durably in commit()
// (mme/atomic_file.h), so a killed process never leaves a file under the final name.
#include <mme/provenance.h>
#include <mme/shard_attributes.h>
#include <mme/shard_dataset.h>
#include <mme/shard_schema.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mme {

inline constexpr int kShardFormatVersion = 1;

// Group name of a video id under /videos, and back.
std::string video_key(const std::string& id);
std::string video_id_from_key(const std::string& key);

class GroupWriter : public AttributeWriter {
 public:
  DatasetWriter create_dataset(const std::string& name, const DatasetSpec& spec);
  // Creates and fills a dataset in one go (small arrays: timestamps, flags, boxes).
  void write_dataset(const std::string& name, DatasetSpec spec, const void* data);
  // The same for a dataset of the schema: throws std::logic_error when spec.dtype is not its type.
  DatasetWriter create_dataset(const schema::Dataset& dataset, const DatasetSpec& spec);
  void write_dataset(const schema::Dataset& dataset, DatasetSpec spec, const void* data);

 private:
  friend class ShardWriter;
  explicit GroupWriter(std::shared_ptr<detail::Handle> group) : AttributeWriter(std::move(group)) {}
};

class ShardWriter : public AttributeWriter {
 public:
  // Creates the temporary file next to `final_path` and writes the root provenance attributes.
  // Stale temporaries of the same final name left by dead processes on this host are removed.
  // Throws FileError.
  ShardWriter(std::filesystem::path final_path, const Provenance& provenance);
  // Removes the temporary file unless commit() succeeded.
  ~ShardWriter();
  ShardWriter(const ShardWriter&) = delete;
  ShardWriter& operator=(const ShardWriter&) = delete;

  // Adds /videos/<key> with attribute id. Throws FileError if the id is already in this shard.
  GroupWriter add_video(const std::string& id);
  // Unlinks a video's group again (a video that failed half-way); its space is not reused.
  void remove_video(const std::string& id);
  // Adds the source file's size and mtime to a video group.
  static void set_source(GroupWriter& video, const SourceStat& source);

  // Flushes, closes, fsyncs and renames to the final name (replacing an older file there).
  void commit();

  const std::filesystem::path& final_path() const { return final_path_; }
  const std::filesystem::path& temp_path() const { return temp_path_; }

 private:
  std::filesystem::path final_path_;
  std::filesystem::path temp_path_;
  std::shared_ptr<detail::Handle> file_;
  std::shared_ptr<detail::Handle> videos_;
  bool committed_ = false;
};

class GroupReader : public AttributeReader {
 public:
  std::vector<std::string> dataset_names() const;
  bool has_dataset(const std::string& name) const;
  DatasetReader dataset(const std::string& name) const;  // throws std::runtime_error
  bool has_dataset(const schema::Dataset& dataset) const { return has_dataset(std::string(dataset.name)); }
  DatasetReader dataset(const schema::Dataset& dataset) const { return this->dataset(std::string(dataset.name)); }
  std::string id() const { return get(schema::video::id); }
  std::optional<SourceStat> source() const;

 private:
  friend class ShardReader;
  explicit GroupReader(std::shared_ptr<detail::Handle> group) : AttributeReader(std::move(group)) {}
};

class ShardReader : public AttributeReader {
 public:
  // Opens a published shard read-only; throws FileError when it is not an HDF5 shard.
  explicit ShardReader(const std::filesystem::path& path);
  const std::filesystem::path& path() const { return path_; }
  std::vector<std::string> video_ids() const;  // in group-name order
  bool has_video(const std::string& id) const;
  GroupReader video(const std::string& id) const;  // throws FileError naming the shard and id

 private:
  std::filesystem::path path_;
  std::shared_ptr<detail::Handle> file_;
  std::shared_ptr<detail::Handle> videos_;
};

}  // namespace mme
