#pragma once
// The HDF5 shard store shared by flowgen and trajgen (layout: docs/formats.md).
//
//   /                 attributes: format, format_version, tool, tool_version, git_commit,
//                     settings (JSON), created, host
//   /videos/<key>     one group per video; attribute `id` = the path from the dataset list;
//                     <key> is the id with '%' and '/' percent-escaped, so it stays readable
//   /videos/<key>/... chunked datasets and attributes written by the tool
//
// ShardWriter writes to "<final>.tmp-<host>-<pid>" and publishes with an atomic rename in commit(),
// so a killed process never leaves a file under the final name. Datasets take chunks that callers
// compressed in their own threads (ChunkCodec) and store them with direct chunk writes.
#include <mme/chunk_codec.h>
#include <mme/provenance.h>

#include <hdf5.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace mme {

inline constexpr int kShardFormatVersion = 1;

// Every HDF5 call of the project goes through this lock: it keeps the C++ side safe whatever the
// HDF5 build, and HDF5 serialises its calls anyway.
std::recursive_mutex& hdf5_mutex();

// Group name of a video id under /videos, and back.
std::string video_key(const std::string& id);
std::string video_id_from_key(const std::string& key);

namespace detail {
struct Handle;  // RAII owner of one hid_t
}

// Attributes on a file root, a group or a dataset.
class AttributeWriter {
 public:
  void set(const std::string& name, const std::string& value);
  void set(const std::string& name, const char* value) { set(name, std::string(value)); }
  void set(const std::string& name, std::int64_t value);
  void set(const std::string& name, int value) { set(name, static_cast<std::int64_t>(value)); }
  void set(const std::string& name, double value);
  void set(const std::string& name, const std::vector<std::int64_t>& values);
  void set(const std::string& name, const std::vector<double>& values);

 protected:
  explicit AttributeWriter(std::shared_ptr<detail::Handle> object) : object_(std::move(object)) {}
  std::shared_ptr<detail::Handle> object_;
};

class AttributeReader {
 public:
  bool has(const std::string& name) const;
  std::vector<std::string> names() const;
  // Each throws std::runtime_error naming the attribute when it is missing or of another type.
  std::string get_string(const std::string& name) const;
  std::int64_t get_int(const std::string& name) const;
  double get_double(const std::string& name) const;
  std::vector<std::int64_t> get_ints(const std::string& name) const;
  std::vector<double> get_doubles(const std::string& name) const;

 protected:
  explicit AttributeReader(std::shared_ptr<detail::Handle> object) : object_(std::move(object)) {}
  std::shared_ptr<detail::Handle> object_;
};

struct DatasetSpec {
  DType dtype = DType::u8;
  std::vector<std::uint64_t> shape;
  std::vector<std::uint64_t> chunk;  // chunk shape; need not divide the shape (edge chunks are padded)
  std::shared_ptr<const ChunkCodec> codec = deflate_codec();
  // The first dimension can grow (resize()): for streams whose length is known only at the end.
  bool extendible = false;
};

// A chunked dataset being written. write_chunk may be called from any thread.
class DatasetWriter : public AttributeWriter {
 public:
  const DatasetSpec& spec() const { return spec_; }
  // Bytes of one full chunk before compression.
  std::size_t chunk_bytes() const;
  // Encodes `raw` (one full chunk, chunk_bytes() long) with the dataset's codec in the calling
  // thread; pass the result to write_encoded_chunk. Split so callers can encode outside any lock.
  std::vector<std::uint8_t> encode(const void* raw) const;
  // Stores an encoded chunk whose first element is at `offset` (a multiple of the chunk shape).
  void write_encoded_chunk(const std::vector<std::uint64_t>& offset, const std::vector<std::uint8_t>& encoded);
  // encode + write_encoded_chunk.
  void write_chunk(const std::vector<std::uint64_t>& offset, const void* raw);
  // Writes a whole array (row-major, shape() elements), chunk by chunk; edge chunks are padded.
  void write_all(const void* data);
  // Sets the first dimension (extendible datasets); chunks beyond a smaller size are dropped.
  void resize(std::uint64_t first_dim);
  // Writes a hyperslab through HDF5's own filter pipeline (for appending raw bytes such as JPEG
  // frames; compressing datasets should use the chunk path above).
  void write_slab(const std::vector<std::uint64_t>& offset, const std::vector<std::uint64_t>& count, const void* data);

 private:
  friend class GroupWriter;
  DatasetWriter(std::shared_ptr<detail::Handle> dataset, DatasetSpec spec);
  DatasetSpec spec_;
};

class GroupWriter : public AttributeWriter {
 public:
  DatasetWriter create_dataset(const std::string& name, const DatasetSpec& spec);
  // Creates and fills a dataset in one go (small arrays: timestamps, flags, boxes).
  void write_dataset(const std::string& name, DatasetSpec spec, const void* data);
  GroupWriter create_group(const std::string& name);

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

struct DatasetInfo {
  DType dtype = DType::u8;
  std::vector<std::uint64_t> shape;
  std::vector<std::uint64_t> chunk;  // empty when not chunked
  std::uint64_t elements() const;
};

class DatasetReader : public AttributeReader {
 public:
  const DatasetInfo& info() const { return info_; }
  // Reads the whole dataset through HDF5's filters, converted to `as` (must be a numeric type the
  // data fits, e.g. int16 -> float32).
  std::vector<std::uint8_t> read_bytes(DType as) const;
  template <typename T>
  std::vector<T> read() const;
  // Reads the hyperslab [offset, offset + count) through HDF5's filters, converted to `as`.
  std::vector<std::uint8_t> read_slab_bytes(const std::vector<std::uint64_t>& offset,
                                            const std::vector<std::uint64_t>& count, DType as) const;
  template <typename T>
  std::vector<T> read_slab(const std::vector<std::uint64_t>& offset, const std::vector<std::uint64_t>& count) const {
    auto bytes = read_slab_bytes(offset, count, dtype_of<T>());
    std::vector<T> out(bytes.size() / sizeof(T));
    std::memcpy(out.data(), bytes.data(), out.size() * sizeof(T));
    return out;
  }
  // The stored (encoded) bytes of the chunk at `offset`; decode them with decode_chunk, in any
  // thread, to decompress chunks in parallel.
  std::vector<std::uint8_t> read_encoded_chunk(const std::vector<std::uint64_t>& offset,
                                               std::uint32_t* filter_mask) const;
  std::vector<std::uint8_t> decode_chunk(const std::vector<std::uint8_t>& encoded, std::uint32_t filter_mask) const;
  // Many chunks along the first dimension: the serial part (HDF5) of reading them, whose
  // decode_chunk calls may then run in parallel. `first` holds each chunk's offset in dimension 0
  // (its other offsets are 0), e.g. the frame numbers of a per-frame chunked dataset.
  struct EncodedChunk {
    std::vector<std::uint8_t> bytes;
    std::uint32_t filter_mask = 0;
  };
  std::vector<EncodedChunk> read_encoded_chunks(const std::vector<std::uint64_t>& first) const;
  std::vector<std::uint8_t> decode_chunk(const EncodedChunk& chunk) const {
    return decode_chunk(chunk.bytes, chunk.filter_mask);
  }
  std::size_t chunk_bytes() const;

 private:
  friend class GroupReader;
  DatasetReader(std::shared_ptr<detail::Handle> dataset, DatasetInfo info, std::shared_ptr<const ChunkCodec> codec);
  DatasetInfo info_;
  std::shared_ptr<const ChunkCodec> codec_;
};

class GroupReader : public AttributeReader {
 public:
  std::vector<std::string> dataset_names() const;
  bool has_dataset(const std::string& name) const;
  DatasetReader dataset(const std::string& name) const;  // throws std::runtime_error
  std::string id() const { return get_string("id"); }
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

template <typename T>
std::vector<T> DatasetReader::read() const {
  auto bytes = read_bytes(dtype_of<T>());
  std::vector<T> out(bytes.size() / sizeof(T));
  std::memcpy(out.data(), bytes.data(), out.size() * sizeof(T));
  return out;
}

}  // namespace mme
