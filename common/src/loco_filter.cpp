#include <mme/checked_size.h>
#include <mme/checksum.h>
#include <mme/hdf5_lock.h>
#include <mme/isa.h>
#include <mme/loco_filter.h>
#include <mme/loco_rice.h>
#include <mme/loco_transform.h>

#include <fmt/format.h>

#include <cstring>
#include <mutex>
#include <stdexcept>

namespace mme {
namespace {

// cd_values: {format version, rows, cols, channels, coder}.
// Format 1: the range coder; the last slot was "reserved", 0. Range-coded chunks are still
// written as format 1, so that builds from before the Rice coder read our flow.
// Format 2: the coder is named in the last slot (Rice-coded chunks were written so).
// Format 3 (written now, for both coders): each chunk starts with the CRC-32C of the rest (4
// bytes, little-endian), checked before decoding, so that a damaged chunk (a zeroed block, flipped
// bits) is an error, not data. Older builds and plugins refuse format 3 instead of misreading it;
// formats 1 and 2 are still read, without a check.
constexpr unsigned kFormatRange = 1, kFormatCoder = 2, kFormatChecked = 3;
constexpr std::size_t kCrcBytes = 4;

struct Format {
  LocoCoder coder = LocoCoder::range;
  bool checked = false;
};

// The chunk's payload after its checksum (format 3), or the chunk (formats 1, 2); null when the
// checksum does not match.
const std::uint8_t* checked_payload(const Format& f, const std::uint8_t* data, std::size_t& bytes) {
  if (!f.checked) return data;
  if (bytes < kCrcBytes) return nullptr;
  const std::uint32_t stored = data[0] | data[1] << 8 | data[2] << 16 | static_cast<std::uint32_t>(data[3]) << 24;
  bytes -= kCrcBytes;
  return crc32c(data + kCrcBytes, bytes) == stored ? data + kCrcBytes : nullptr;
}

void prepend_checksum(std::vector<std::uint8_t>& coded) {
  const std::uint32_t crc = crc32c(coded.data(), coded.size());
  const std::uint8_t head[kCrcBytes] = {static_cast<std::uint8_t>(crc), static_cast<std::uint8_t>(crc >> 8),
                                        static_cast<std::uint8_t>(crc >> 16), static_cast<std::uint8_t>(crc >> 24)};
  coded.insert(coded.begin(), head, head + kCrcBytes);
}

#if MME_HAVE_X86_64_V3
// The Rice encoder's pass 1 vectorises (1.5x faster in this build); the range coder is a chain of
// dependent steps that the x86-64-v3 build runs at the same speed, so it has one build.
MME_X86_64_V3 void rice_encode_v3(const std::int16_t* in, const loco::Geometry& g, std::vector<std::uint8_t>& out) {
  loco::rice_encode(in, g, out);
}
#endif

void encode_with(LocoCoder coder, const std::int16_t* in, const loco::Geometry& g, std::vector<std::uint8_t>& out) {
  if (coder == LocoCoder::range) return loco::encode(in, g, out);
#if MME_HAVE_X86_64_V3
  if (isa::active() == isa::Level::x86_64_v3) return rice_encode_v3(in, g, out);
#endif
  loco::rice_encode(in, g, out);
}

bool decode_with(LocoCoder coder, const std::uint8_t* data, std::size_t bytes, const loco::Geometry& g,
                 std::int16_t* out) {
  return coder == LocoCoder::rice ? loco::rice_decode(data, bytes, g, out) : loco::decode(data, bytes, g, out);
}

// The format that cd_values name; false for a format or coder this build does not know.
bool format_of(const unsigned cd[5], Format& f) {
  if (cd[0] == kFormatRange && cd[4] == 0) {
    f = {LocoCoder::range, false};
    return true;
  }
  if ((cd[0] != kFormatCoder && cd[0] != kFormatChecked) || cd[4] > static_cast<unsigned>(LocoCoder::rice))
    return false;
  f = {static_cast<LocoCoder>(cd[4]), cd[0] == kFormatChecked};
  return true;
}

loco::Geometry geometry_of(const std::vector<std::uint64_t>& chunk, int row_dims) {
  if (row_dims < 1 || chunk.size() < static_cast<std::size_t>(row_dims) + 1)
    throw std::invalid_argument("loco codec: the chunk has too few dimensions");
  loco::Geometry g;
  g.channels = chunk.back();
  g.cols = 1;
  g.rows = 1;
  const std::size_t first_col = chunk.size() - 1 - static_cast<std::size_t>(row_dims);
  for (std::size_t d = 0; d + 1 < chunk.size(); ++d) (d >= first_col ? g.cols : g.rows) *= chunk[d];
  return g;
}

class LocoCodec final : public ChunkCodec {
 public:
  LocoCodec(loco::Geometry g, Format f) : g_(g), f_(f) {}
  std::string name() const override { return f_.coder == LocoCoder::rice ? "loco-rice" : "loco"; }
  void set_filters(hid_t dcpl, std::size_t element_size) const override {
    if (element_size != 2) throw std::invalid_argument("loco codec: the dataset must hold int16");
    if (!f_.checked) throw std::logic_error("loco codec: only the checked format is written");
    const unsigned cd[5] = {kFormatChecked, static_cast<unsigned>(g_.rows), static_cast<unsigned>(g_.cols),
                            static_cast<unsigned>(g_.channels), static_cast<unsigned>(f_.coder)};
    if (H5Pset_filter(dcpl, kLocoFilterId, H5Z_FLAG_MANDATORY, 5, cd) < 0)
      throw std::runtime_error("H5Pset_filter(loco) failed");
  }
  std::vector<std::uint8_t> encode(const void* data, std::size_t bytes, std::size_t) const override {
    if (bytes != g_.values() * 2)
      throw std::invalid_argument(fmt::format("loco codec: chunk of {} bytes, expected {}", bytes, g_.values() * 2));
    std::vector<std::uint8_t> out;
    encode_with(f_.coder, static_cast<const std::int16_t*>(data), g_, out);
    prepend_checksum(out);
    return out;
  }
  std::vector<std::uint8_t> decode(const std::uint8_t* data, std::size_t bytes, std::size_t, std::size_t raw_bytes,
                                   std::uint32_t filter_mask) const override {
    if (raw_bytes != g_.values() * 2)
      throw std::runtime_error("loco codec: chunk size differs from the filter's geometry");
    if (filter_mask & 1u) return {data, data + bytes};  // stored unfiltered
    const auto* payload = checked_payload(f_, data, bytes);
    if (!payload) throw std::runtime_error("corrupt loco chunk: its CRC-32C does not match (the stored bytes changed)");
    std::vector<std::uint8_t> out(raw_bytes);
    if (!decode_with(f_.coder, payload, bytes, g_, reinterpret_cast<std::int16_t*>(out.data())))
      throw std::runtime_error("corrupt loco chunk");
    return out;
  }

 private:
  loco::Geometry g_;
  Format f_;
};

// A chunk's geometry as its header says, checked before anything is allocated: HDF5 chunks hold
// at most 4 GiB, so at most 2^31 int16 values; a product beyond that (or wrapping 64 bits) is damage.
bool plausible(const loco::Geometry& g) {
  return checked_product({std::uint64_t{g.rows}, std::uint64_t{g.cols}, std::uint64_t{g.channels}},
                         std::uint64_t{1} << 31)
      .has_value();
}

// The HDF5 filter callback: forward (encode) and reverse (decode) of one chunk in place.
std::size_t loco_filter(unsigned flags, std::size_t cd_nelmts, const unsigned cd_values[], std::size_t nbytes,
                        std::size_t* buf_size, void** buf) {
  Format f;
  if (cd_nelmts < 5 || !format_of(cd_values, f)) return 0;
  loco::Geometry g{cd_values[1], cd_values[2], cd_values[3]};
  if (!plausible(g)) return 0;  // a damaged header: the chunk is reported as unreadable
  if (flags & H5Z_FLAG_REVERSE) {
    std::vector<std::int16_t> values(g.values());
    std::size_t payload_bytes = nbytes;
    const auto* payload = checked_payload(f, static_cast<const std::uint8_t*>(*buf), payload_bytes);
    if (!payload || !decode_with(f.coder, payload, payload_bytes, g, values.data())) return 0;
    const std::size_t out_bytes = values.size() * 2;
    void* out = H5allocate_memory(out_bytes, false);
    if (!out) return 0;
    std::memcpy(out, values.data(), out_bytes);
    H5free_memory(*buf);
    *buf = out;
    *buf_size = out_bytes;
    return out_bytes;
  }
  if (nbytes != g.values() * 2) return 0;
  std::vector<std::uint8_t> encoded;
  encode_with(f.coder, static_cast<const std::int16_t*>(*buf), g, encoded);
  if (f.checked) prepend_checksum(encoded);
  void* out = H5allocate_memory(encoded.size(), false);
  if (!out) return 0;
  std::memcpy(out, encoded.data(), encoded.size());
  H5free_memory(*buf);
  *buf = out;
  *buf_size = encoded.size();
  return encoded.size();
}

std::shared_ptr<const ChunkCodec> codec_from_dcpl(hid_t dcpl) {
  unsigned flags = 0, cd[8] = {};
  std::size_t n = 8;
  if (H5Pget_filter_by_id2(dcpl, kLocoFilterId, &flags, &n, cd, 0, nullptr, nullptr) < 0 || n < 5) return nullptr;
  Format f;
  if (!format_of(cd, f))
    throw std::runtime_error(fmt::format(
        "loco filter: format {} with coder {} is not known to this build (written by a newer mme?)", cd[0], cd[4]));
  const loco::Geometry g{cd[1], cd[2], cd[3]};
  if (!plausible(g))
    throw std::runtime_error(
        fmt::format("loco filter: a chunk geometry of {} x {} x {} values is not plausible", cd[1], cd[2], cd[3]));
  return std::make_shared<LocoCodec>(g, f);
}

}  // namespace

extern "C" const H5Z_class2_t mme_loco_filter_class = {
    H5Z_CLASS_T_VERS, kLocoFilterId, 1,           1, "mme-loco: LOCO-I prediction + range or Rice coding of int16 flow",
    nullptr,          nullptr,       loco_filter,
};

void register_loco_filter() {
  static std::once_flag once;
  std::call_once(once, [] {
    std::lock_guard lock(hdf5_mutex());
    if (H5Zfilter_avail(kLocoFilterId) <= 0) H5Zregister(&mme_loco_filter_class);
    register_codec_filter(kLocoFilterId, codec_from_dcpl);
  });
}

std::shared_ptr<const ChunkCodec> loco_codec(const std::vector<std::uint64_t>& chunk, int row_dims, LocoCoder coder) {
  register_loco_filter();
  return std::make_shared<LocoCodec>(geometry_of(chunk, row_dims), Format{coder, /*checked=*/true});
}

}  // namespace mme
