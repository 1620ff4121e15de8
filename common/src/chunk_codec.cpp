#include <mme/checksum.h>
#include <mme/chunk_codec.h>
#include <mme/hdf5_lock.h>

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <limits>
#include <map>
#include <stdexcept>

namespace mme {

std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::u8:
    case DType::i8:
      return 1;
    case DType::u16:
    case DType::i16:
    case DType::f16:
      return 2;
    case DType::u32:
    case DType::i32:
    case DType::f32:
      return 4;
    case DType::i64:
    case DType::f64:
      return 8;
  }
  throw std::logic_error("dtype_size: unknown dtype");
}

const char* dtype_name(DType t) {
  static constexpr const char* names[] = {"uint8", "int8",  "uint16",  "int16",   "uint32",
                                          "int32", "int64", "float16", "float32", "float64"};
  return names[static_cast<int>(t)];
}

void shuffle_bytes(const std::uint8_t* in, std::uint8_t* out, std::size_t bytes, std::size_t element_size) {
  const std::size_t n = element_size > 1 ? bytes / element_size : 0;
  for (std::size_t b = 0; b < (n ? element_size : 0); ++b)
    for (std::size_t i = 0; i < n; ++i) out[b * n + i] = in[i * element_size + b];
  // HDF5 leaves the bytes of an incomplete last element as they are.
  const std::size_t tail = n * element_size;
  std::copy(in + tail, in + bytes, out + tail);
}

void unshuffle_bytes(const std::uint8_t* in, std::uint8_t* out, std::size_t bytes, std::size_t element_size) {
  const std::size_t n = element_size > 1 ? bytes / element_size : 0;
  for (std::size_t b = 0; b < (n ? element_size : 0); ++b)
    for (std::size_t i = 0; i < n; ++i) out[i * element_size + b] = in[b * n + i];
  const std::size_t tail = n * element_size;
  std::copy(in + tail, in + bytes, out + tail);
}

namespace {

class RawCodec final : public ChunkCodec {
 public:
  std::string name() const override { return "raw"; }
  void set_filters(hid_t, std::size_t) const override {}
  std::vector<std::uint8_t> encode(const void* data, std::size_t bytes, std::size_t) const override {
    const auto* p = static_cast<const std::uint8_t*>(data);
    return {p, p + bytes};
  }
  std::vector<std::uint8_t> decode(const std::uint8_t* data, std::size_t bytes, std::size_t, std::size_t raw_bytes,
                                   std::uint32_t) const override {
    if (bytes != raw_bytes)
      throw std::runtime_error(fmt::format("raw chunk holds {} bytes, expected {}", bytes, raw_bytes));
    return {data, data + bytes};
  }
};

class DeflateCodec final : public ChunkCodec {
 public:
  DeflateCodec(int level, bool shuffle, DeflateStrategy strategy)
      : level_(level), shuffle_(shuffle), strategy_(strategy) {
    if (level < 0 || level > 9) throw std::invalid_argument(fmt::format("deflate level {} not in 0..9", level));
  }
  std::string name() const override {
    return fmt::format("{}deflate-{}{}", shuffle_ ? "shuffle+" : "", level_,
                       strategy_ == DeflateStrategy::run_length ? "-rle" : "");
  }

  void set_filters(hid_t dcpl, std::size_t element_size) const override {
    if (shuffle_ && element_size > 1 && H5Pset_shuffle(dcpl) < 0) throw std::runtime_error("H5Pset_shuffle failed");
    if (H5Pset_deflate(dcpl, static_cast<unsigned>(level_)) < 0) throw std::runtime_error("H5Pset_deflate failed");
  }

  std::vector<std::uint8_t> encode(const void* data, std::size_t bytes, std::size_t element_size) const override {
    const auto* src = static_cast<const Bytef*>(data);
    std::vector<std::uint8_t> shuffled;
    if (shuffle_ && element_size > 1) {
      shuffled.resize(bytes);
      shuffle_bytes(src, shuffled.data(), bytes, element_size);
      src = shuffled.data();
    }
    // zlib format (header + adler32), exactly what HDF5's deflate filter writes and reads.
    z_stream z{};
    if (deflateInit2(&z, level_, Z_DEFLATED, 15, 8,
                     strategy_ == DeflateStrategy::run_length ? Z_RLE : Z_DEFAULT_STRATEGY) != Z_OK)
      throw std::runtime_error("zlib deflateInit2 failed");
    std::vector<std::uint8_t> out(deflateBound(&z, static_cast<uLong>(bytes)));
    // zlib counts the bytes of one call in 32 bits: larger buffers go in pieces.
    constexpr std::size_t kMaxPiece = std::numeric_limits<uInt>::max();
    std::size_t in_left = bytes, out_left = out.size();
    z.next_in = const_cast<Bytef*>(src);
    z.next_out = out.data();
    int rc = Z_OK;
    while (rc == Z_OK) {
      const std::size_t in_piece = std::min(in_left, kMaxPiece), out_piece = std::min(out_left, kMaxPiece);
      z.avail_in = static_cast<uInt>(in_piece);
      z.avail_out = static_cast<uInt>(out_piece);
      rc = deflate(&z, in_piece == in_left ? Z_FINISH : Z_NO_FLUSH);
      in_left -= in_piece - z.avail_in;
      out_left -= out_piece - z.avail_out;
    }
    out.resize(out.size() - out_left);
    deflateEnd(&z);
    if (rc != Z_STREAM_END) throw std::runtime_error(fmt::format("zlib deflate failed ({})", rc));
    return out;
  }

  std::vector<std::uint8_t> decode(const std::uint8_t* data, std::size_t bytes, std::size_t element_size,
                                   std::size_t raw_bytes, std::uint32_t filter_mask) const override {
    const bool has_shuffle = shuffle_ && element_size > 1;
    const unsigned deflate_bit = has_shuffle ? 1u : 0u;
    std::vector<std::uint8_t> inflated;
    if (filter_mask & (1u << deflate_bit)) {
      inflated.assign(data, data + bytes);
    } else {
      inflated.resize(raw_bytes);
      uLongf out_bytes = static_cast<uLongf>(raw_bytes);
      const int rc = uncompress(inflated.data(), &out_bytes, data, static_cast<uLong>(bytes));
      if (rc != Z_OK) throw std::runtime_error(fmt::format("corrupt deflate chunk (zlib error {})", rc));
      inflated.resize(out_bytes);
    }
    if (inflated.size() != raw_bytes)
      throw std::runtime_error(fmt::format("chunk decodes to {} bytes, expected {}", inflated.size(), raw_bytes));
    if (!has_shuffle || (filter_mask & 1u)) return inflated;
    std::vector<std::uint8_t> out(raw_bytes);
    unshuffle_bytes(inflated.data(), out.data(), raw_bytes, element_size);
    return out;
  }

 private:
  int level_;
  bool shuffle_;
  DeflateStrategy strategy_;
};

std::map<H5Z_filter_t, CodecFactory>& registry() {
  static std::map<H5Z_filter_t, CodecFactory> r;
  return r;
}

}  // namespace

// Stored as they are, with HDF5's Fletcher-32 checksum appended (4 bytes, little-endian), which
// HDF5 checks on every read (ours through H5Dread, h5py's).
class Fletcher32Codec final : public ChunkCodec {
 public:
  std::string name() const override { return "fletcher32"; }
  void set_filters(hid_t dcpl, std::size_t) const override {
    if (H5Pset_fletcher32(dcpl) < 0) throw std::runtime_error("H5Pset_fletcher32 failed");
  }
  std::vector<std::uint8_t> encode(const void* data, std::size_t bytes, std::size_t) const override {
    const auto* p = static_cast<const std::uint8_t*>(data);
    std::vector<std::uint8_t> out(p, p + bytes);
    const std::uint32_t sum = fletcher32(data, bytes);
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(sum >> (8 * i)));
    return out;
  }
  std::vector<std::uint8_t> decode(const std::uint8_t* data, std::size_t bytes, std::size_t, std::size_t raw_bytes,
                                   std::uint32_t filter_mask) const override {
    if (filter_mask & 1u) return {data, data + bytes};  // stored unfiltered
    if (bytes != raw_bytes + 4)
      throw std::runtime_error(fmt::format("checksummed chunk holds {} bytes, expected {}", bytes, raw_bytes + 4));
    std::uint32_t stored = 0;
    for (int i = 0; i < 4; ++i) stored |= static_cast<std::uint32_t>(data[raw_bytes + i]) << (8 * i);
    if (fletcher32(data, raw_bytes) != stored)
      throw std::runtime_error("corrupt chunk: its Fletcher-32 checksum does not match (the stored bytes changed)");
    return {data, data + raw_bytes};
  }
};

std::shared_ptr<const ChunkCodec> raw_codec() {
  static const auto codec = std::make_shared<RawCodec>();
  return codec;
}

std::shared_ptr<const ChunkCodec> checked_raw_codec() {
  static const auto codec = std::make_shared<Fletcher32Codec>();
  return codec;
}

std::shared_ptr<const ChunkCodec> deflate_codec(int level, bool shuffle, DeflateStrategy strategy) {
  return std::make_shared<DeflateCodec>(level, shuffle, strategy);
}

void register_codec_filter(H5Z_filter_t filter_id, CodecFactory factory) {
  std::lock_guard lock(hdf5_mutex());
  registry()[filter_id] = factory;
}

std::shared_ptr<const ChunkCodec> codec_for_dataset(hid_t dataset) {
  std::lock_guard lock(hdf5_mutex());
  const hid_t dcpl = H5Dget_create_plist(dataset);
  if (dcpl < 0) throw std::runtime_error("cannot read the dataset's creation properties");
  std::vector<H5Z_filter_t> filters;
  unsigned deflate_level = 0;
  const int n = H5Pget_nfilters(dcpl);
  for (int i = 0; i < n; ++i) {
    unsigned flags = 0;
    std::size_t nvalues = 8;
    unsigned values[8] = {};
    char name[64] = {};
    unsigned config = 0;
    const H5Z_filter_t id =
        H5Pget_filter2(dcpl, static_cast<unsigned>(i), &flags, &nvalues, values, sizeof name, name, &config);
    filters.push_back(id);
    if (id == H5Z_FILTER_DEFLATE && nvalues > 0) deflate_level = values[0];
  }
  std::shared_ptr<const ChunkCodec> codec;
  if (filters.empty()) {
    codec = raw_codec();
  } else if (filters == std::vector<H5Z_filter_t>{H5Z_FILTER_FLETCHER32}) {
    codec = checked_raw_codec();
  } else if (filters == std::vector<H5Z_filter_t>{H5Z_FILTER_DEFLATE}) {
    codec = deflate_codec(static_cast<int>(deflate_level), false);
  } else if (filters == std::vector<H5Z_filter_t>{H5Z_FILTER_SHUFFLE, H5Z_FILTER_DEFLATE}) {
    codec = deflate_codec(static_cast<int>(deflate_level), true);
  } else {
    for (auto id : filters) {
      if (auto it = registry().find(id); it != registry().end()) {
        codec = it->second(dcpl);
        break;
      }
    }
  }
  H5Pclose(dcpl);
  if (!codec) {
    std::string ids;
    for (auto id : filters) ids += fmt::format("{}{}", ids.empty() ? "" : ",", id);
    throw std::runtime_error(fmt::format("no chunk codec for the filter pipeline [{}]", ids));
  }
  return codec;
}

}  // namespace mme
