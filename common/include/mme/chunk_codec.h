#pragma once
// Chunk codecs: the compression of one HDF5 chunk, done in the caller's threads so that many
// chunks compress in parallel; the shard writer then stores the bytes with a direct chunk write
// (HDF5 serialises all its calls behind one lock, so compressing inside HDF5 would not scale).
//
// A codec also declares the matching HDF5 filter pipeline on the dataset, so every reader (ours,
// h5py, h5dump) decodes the chunks with HDF5's ordinary filters.
#include <hdf5.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

namespace mme {

enum class DType { u8, i8, u16, i16, u32, i32, i64, f16, f32, f64 };
std::size_t dtype_size(DType t);
// numpy's name of the type: "uint8", "int16", "float16", ...
const char* dtype_name(DType t);

// The DType of a C++ element type.
template <typename T>
inline constexpr DType dtype_of() {
  if constexpr (std::is_same_v<T, std::uint8_t>)
    return DType::u8;
  else if constexpr (std::is_same_v<T, std::int8_t>)
    return DType::i8;
  else if constexpr (std::is_same_v<T, std::uint16_t>)
    return DType::u16;
  else if constexpr (std::is_same_v<T, std::int16_t>)
    return DType::i16;
  else if constexpr (std::is_same_v<T, std::uint32_t>)
    return DType::u32;
  else if constexpr (std::is_same_v<T, std::int32_t>)
    return DType::i32;
  else if constexpr (std::is_same_v<T, std::int64_t>)
    return DType::i64;
  else if constexpr (std::is_same_v<T, float>)
    return DType::f32;
  else if constexpr (std::is_same_v<T, double>)
    return DType::f64;
  else
    static_assert(sizeof(T) == 0, "unsupported element type");
}

class ChunkCodec {
 public:
  virtual ~ChunkCodec() = default;
  virtual std::string name() const = 0;
  // Adds this codec's filters to a dataset creation property list.
  virtual void set_filters(hid_t dcpl, std::size_t element_size) const = 0;
  // Encodes one full chunk (`bytes` bytes of elements of `element_size` bytes). Thread-safe.
  virtual std::vector<std::uint8_t> encode(const void* data, std::size_t bytes, std::size_t element_size) const = 0;
  // Decodes one stored chunk back to `raw_bytes` bytes. `filter_mask` is HDF5's per-chunk mask of
  // skipped filters. Thread-safe. Throws std::runtime_error on corrupt data.
  virtual std::vector<std::uint8_t> decode(const std::uint8_t* data, std::size_t bytes, std::size_t element_size,
                                           std::size_t raw_bytes, std::uint32_t filter_mask) const = 0;
};

// No filter: chunks stored as they are (e.g. JPEG bytes, which do not compress further).
std::shared_ptr<const ChunkCodec> raw_codec();
// Stored as they are, with HDF5's Fletcher-32 checksum (checksum.h), checked on every read: for
// data that does not compress (the JPEG frames) but must not be misread when damaged.
std::shared_ptr<const ChunkCodec> checked_raw_codec();
// How deflate looks for repeats. run_length (zlib's Z_RLE) matches only runs of the last byte:
// on shuffled float16 motion maps 1.45x faster than level 1 and 5% smaller. Either way the
// chunks are standard zlib streams, which HDF5's deflate filter reads.
enum class DeflateStrategy { standard, run_length };
// HDF5's shuffle (optional) + deflate (zlib) at `level` 1..9, byte-compatible with HDF5's filters.
std::shared_ptr<const ChunkCodec> deflate_codec(int level = 4, bool shuffle = true,
                                                DeflateStrategy strategy = DeflateStrategy::standard);

// The codec that decodes a dataset's chunks, from its filter pipeline. Knows shuffle and deflate;
// other filters are added with register_codec_filter. Throws std::runtime_error for unknown ones.
std::shared_ptr<const ChunkCodec> codec_for_dataset(hid_t dataset);

// Lets a component (e.g. flowgen's predictive flow filter) teach codec_for_dataset a filter id.
using CodecFactory = std::shared_ptr<const ChunkCodec> (*)(hid_t dcpl);
void register_codec_filter(H5Z_filter_t filter_id, CodecFactory factory);

// Byte shuffle as HDF5's H5Z_FILTER_SHUFFLE does it (all first bytes, then all second bytes...).
void shuffle_bytes(const std::uint8_t* in, std::uint8_t* out, std::size_t bytes, std::size_t element_size);
void unshuffle_bytes(const std::uint8_t* in, std::uint8_t* out, std::size_t bytes, std::size_t element_size);

}  // namespace mme
