#pragma once
// Checksums of stored chunks, so that a damaged chunk (a torn write, a hole in a sparse file, bit
// rot) is an error instead of data:
//   crc32c      CRC-32C (Castagnoli), in the header of every LOCO-coded chunk (loco_filter.h)
//   fletcher32  HDF5's Fletcher-32 filter, computed as HDF5 computes it, for chunks that are
//               stored as they are (the JPEG frames): HDF5 and h5py check it on every read
#include <cstddef>
#include <cstdint>

namespace mme {

std::uint32_t crc32c(const void* data, std::size_t bytes);

// HDF5's H5_checksum_fletcher32: 16-bit big-endian words, sums folded every 360 words.
std::uint32_t fletcher32(const void* data, std::size_t bytes);

}  // namespace mme
