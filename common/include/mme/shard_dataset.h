#pragma once
// Chunked datasets of a shard. Writers take chunks that callers compressed in their own threads
// (ChunkCodec; HDF5 would compress them one at a time behind its lock) and store them with direct
// chunk writes; readers hand out stored chunks for decoding in any thread, or read through HDF5's
// filters.
#include <mme/chunk_codec.h>
#include <mme/shard_attributes.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace mme {

class GroupWriter;
class GroupReader;

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
  DatasetReader(std::shared_ptr<detail::Handle> dataset, DatasetInfo info, std::shared_ptr<const ChunkCodec> codec,
                std::string codec_error);
  DatasetInfo info_;
  std::shared_ptr<const ChunkCodec> codec_;
  std::string codec_error_;  // why the dataset's filters have no codec (decode_chunk reports it)
};

template <typename T>
std::vector<T> DatasetReader::read() const {
  auto bytes = read_bytes(dtype_of<T>());
  std::vector<T> out(bytes.size() / sizeof(T));
  std::memcpy(out.data(), bytes.data(), out.size() * sizeof(T));
  return out;
}

}  // namespace mme
