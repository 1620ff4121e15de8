#include <mme/shard_dataset.h>

#include "hdf5_object.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace mme {

using namespace detail;

namespace {

// Runs `transfer(memory space, file space)` (an H5Dread or H5Dwrite) on the hyperslab
// [offset, offset + count) of `dataset`; `what` names it in the error. Under the HDF5 lock.
template <typename Transfer>
void transfer_slab(hid_t dataset, const std::vector<hsize_t>& offset, const std::vector<hsize_t>& count,
                   const char* what, Transfer transfer) {
  const Scoped file_space(check_id(H5Dget_space(dataset), "H5Dget_space"), H5Sclose);
  const Scoped mem_space(H5Screate_simple(static_cast<int>(count.size()), count.data(), nullptr), H5Sclose);
  check_rc(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, offset.data(), nullptr, count.data(), nullptr), what);
  check_rc(transfer(mem_space.get(), file_space.get()), what);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Writing

DatasetWriter::DatasetWriter(std::shared_ptr<Handle> dataset, DatasetSpec spec)
    : AttributeWriter(std::move(dataset)), spec_(std::move(spec)) {}

std::size_t DatasetWriter::chunk_bytes() const {
  return product(spec_.chunk) * dtype_size(spec_.dtype);
}

std::vector<std::uint8_t> DatasetWriter::encode(const void* raw) const {
  return spec_.codec->encode(raw, chunk_bytes(), dtype_size(spec_.dtype));
}

void DatasetWriter::write_encoded_chunk(const std::vector<std::uint64_t>& offset,
                                        const std::vector<std::uint8_t>& encoded) {
  if (offset.size() != spec_.shape.size())
    throw std::invalid_argument("write_chunk: offset rank differs from the dataset's");
  for (std::size_t d = 0; d < offset.size(); ++d)
    if (offset[d] % spec_.chunk[d] != 0 || offset[d] >= spec_.shape[d])
      throw std::invalid_argument(
          fmt::format("write_chunk: offset {} in dimension {} is not a chunk start", offset[d], d));
  const auto off = to_hsize(offset);
  Hdf5Lock lock;
  check_rc(H5Dwrite_chunk(object_->id, H5P_DEFAULT, 0, off.data(), encoded.size(), encoded.data()), "H5Dwrite_chunk");
}

void DatasetWriter::write_chunk(const std::vector<std::uint64_t>& offset, const void* raw) {
  write_encoded_chunk(offset, encode(raw));
}

void DatasetWriter::write_all(const void* data) {
  const std::size_t rank = spec_.shape.size();
  const std::size_t esize = dtype_size(spec_.dtype);
  if (product(spec_.shape) == 0) return;
  std::vector<std::uint64_t> grid(rank), offset(rank, 0);
  for (std::size_t d = 0; d < rank; ++d) grid[d] = (spec_.shape[d] + spec_.chunk[d] - 1) / spec_.chunk[d];
  // Row-major strides (in elements) of the source array.
  std::vector<std::size_t> stride(rank, 1);
  for (std::size_t d = rank; d-- > 1;) stride[d - 1] = stride[d] * spec_.shape[d];
  std::vector<std::uint8_t> chunk(chunk_bytes());
  const auto* src = static_cast<const std::uint8_t*>(data);
  std::vector<std::uint64_t> index(rank, 0);  // chunk grid position
  for (;;) {
    for (std::size_t d = 0; d < rank; ++d) offset[d] = index[d] * spec_.chunk[d];
    std::fill(chunk.begin(), chunk.end(), 0);
    // Copy the rows of this chunk: iterate over all but the last dimension.
    const std::size_t inner = std::min<std::uint64_t>(spec_.chunk[rank - 1], spec_.shape[rank - 1] - offset[rank - 1]);
    std::vector<std::uint64_t> pos(rank, 0);
    for (;;) {
      bool inside = true;
      std::size_t src_index = 0, dst_index = 0, dst_stride = 1;
      for (std::size_t d = rank; d-- > 0;) {
        if (offset[d] + pos[d] >= spec_.shape[d]) inside = false;
        src_index += (offset[d] + pos[d]) * stride[d];
        dst_index += pos[d] * dst_stride;
        dst_stride *= spec_.chunk[d];
      }
      if (inside) std::memcpy(chunk.data() + dst_index * esize, src + src_index * esize, inner * esize);
      std::size_t d = rank - 1;
      while (d-- > 0) {
        if (++pos[d] < spec_.chunk[d]) break;
        pos[d] = 0;
      }
      if (d == static_cast<std::size_t>(-1)) break;
    }
    write_chunk(offset, chunk.data());
    std::size_t d = rank;
    while (d-- > 0) {
      if (++index[d] < grid[d]) break;
      index[d] = 0;
    }
    if (d == static_cast<std::size_t>(-1)) break;
  }
}

void DatasetWriter::resize(std::uint64_t first_dim) {
  if (!spec_.extendible && first_dim != spec_.shape[0])
    throw std::invalid_argument("resize: the dataset was not created extendible");
  auto dims = to_hsize(spec_.shape);
  dims[0] = first_dim;
  Hdf5Lock lock;
  check_rc(H5Dset_extent(object_->id, dims.data()), "H5Dset_extent");
  spec_.shape[0] = first_dim;
}

void DatasetWriter::write_slab(const std::vector<std::uint64_t>& offset, const std::vector<std::uint64_t>& count,
                               const void* data) {
  const auto off = to_hsize(offset), cnt = to_hsize(count);
  if (off.size() != spec_.shape.size() || cnt.size() != spec_.shape.size())
    throw std::invalid_argument("write_slab: rank differs from the dataset's");
  if (product(count) == 0) return;
  Hdf5Lock lock;
  transfer_slab(object_->id, off, cnt, "H5Dwrite", [&](hid_t mem_space, hid_t file_space) {
    return H5Dwrite(object_->id, memory_type(spec_.dtype), mem_space, file_space, H5P_DEFAULT, data);
  });
}
// ---------------------------------------------------------------------------------------------
// Reading

std::uint64_t DatasetInfo::elements() const {
  return product(shape);
}

DatasetReader::DatasetReader(std::shared_ptr<Handle> dataset, DatasetInfo info, std::shared_ptr<const ChunkCodec> codec,
                             std::string codec_error)
    : AttributeReader(std::move(dataset)),
      info_(std::move(info)),
      codec_(std::move(codec)),
      codec_error_(std::move(codec_error)) {}

std::size_t DatasetReader::chunk_bytes() const {
  return product(info_.chunk) * dtype_size(info_.dtype);
}

std::vector<std::uint8_t> DatasetReader::read_bytes(DType as) const {
  std::vector<std::uint8_t> out(info_.elements() * dtype_size(as));
  if (out.empty()) return out;
  Hdf5Lock lock;
  check_rc(H5Dread(object_->id, memory_type(as), H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()), "H5Dread");
  return out;
}

std::vector<std::uint8_t> DatasetReader::read_slab_bytes(const std::vector<std::uint64_t>& offset,
                                                         const std::vector<std::uint64_t>& count, DType as) const {
  if (offset.size() != info_.shape.size() || count.size() != info_.shape.size())
    throw std::invalid_argument("read_slab: rank differs from the dataset's");
  for (std::size_t d = 0; d < offset.size(); ++d)
    if (offset[d] + count[d] > info_.shape[d])
      throw std::out_of_range(fmt::format("read_slab: [{}, {}) is outside dimension {} of size {}", offset[d],
                                          offset[d] + count[d], d, info_.shape[d]));
  std::vector<std::uint8_t> out(product(count) * dtype_size(as));
  if (out.empty()) return out;
  const auto off = to_hsize(offset), cnt = to_hsize(count);
  Hdf5Lock lock;
  transfer_slab(object_->id, off, cnt, "H5Dread", [&](hid_t mem_space, hid_t file_space) {
    return H5Dread(object_->id, memory_type(as), mem_space, file_space, H5P_DEFAULT, out.data());
  });
  return out;
}

std::vector<std::uint8_t> DatasetReader::read_encoded_chunk(const std::vector<std::uint64_t>& offset,
                                                            std::uint32_t* filter_mask) const {
  if (info_.chunk.empty()) throw std::runtime_error("read_encoded_chunk: the dataset is not chunked");
  const auto off = to_hsize(offset);
  Hdf5Lock lock;
  hsize_t nbytes = 0;
  check_rc(H5Dget_chunk_storage_size(object_->id, off.data(), &nbytes), "H5Dget_chunk_storage_size");
  std::vector<std::uint8_t> out(nbytes);
  std::uint32_t mask = 0;
  check_rc(H5Dread_chunk(object_->id, H5P_DEFAULT, off.data(), &mask, out.data()), "H5Dread_chunk");
  if (filter_mask) *filter_mask = mask;
  return out;
}

std::vector<DatasetReader::EncodedChunk> DatasetReader::read_encoded_chunks(
    const std::vector<std::uint64_t>& first) const {
  std::vector<EncodedChunk> out(first.size());
  std::vector<std::uint64_t> offset(info_.shape.size(), 0);
  for (std::size_t i = 0; i < first.size(); ++i) {
    offset[0] = first[i];
    out[i].bytes = read_encoded_chunk(offset, &out[i].filter_mask);
  }
  return out;
}

std::vector<std::uint8_t> DatasetReader::decode_chunk(const std::vector<std::uint8_t>& encoded,
                                                      std::uint32_t filter_mask) const {
  if (!codec_) throw std::runtime_error(codec_error_.empty() ? "the dataset is not chunked" : codec_error_);
  return codec_->decode(encoded.data(), encoded.size(), dtype_size(info_.dtype), chunk_bytes(), filter_mask);
}
}  // namespace mme
