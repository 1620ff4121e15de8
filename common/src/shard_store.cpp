#include <mme/atomic_file.h>
#include <mme/error.h>
#include <mme/input_file.h>
#include <mme/json_file.h>
#include <mme/loco_filter.h>
#include <mme/shard_store.h>
#include <mme/version.h>

#include "hdf5_object.h"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <stdexcept>

namespace mme {

using namespace detail;

// ---------------------------------------------------------------------------------------------
// Keys: ids are paths, but '/' separates HDF5 groups, so it is percent-escaped (and '%' itself),
// and so is every byte that is not part of valid UTF-8 (a file name in another encoding), so that
// keys are text for every reader (h5py gives str).

std::string video_key(const std::string& id) {
  std::string key;
  for (std::size_t i = 0; i < id.size();) {
    const auto n = utf8_sequence_length(std::string_view(id).substr(i));
    if (n == 0 || id[i] == '%' || id[i] == '/') {
      key += fmt::format("%{:02X}", static_cast<unsigned char>(id[i]));
      ++i;
    } else {
      key.append(id, i, n);
      i += n;
    }
  }
  if (key == "." || key.empty()) key = key == "." ? "%2E" : "%00";
  return key;
}

std::string video_id_from_key(const std::string& key) {
  if (key == "%2E") return ".";
  if (key == "%00") return "";
  const auto hex = [](char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                  : -1;
  };
  std::string id;
  for (std::size_t i = 0; i < key.size(); ++i) {
    if (key[i] == '%' && i + 2 < key.size() && hex(key[i + 1]) >= 0 && hex(key[i + 2]) >= 0) {
      id += static_cast<char>(hex(key[i + 1]) * 16 + hex(key[i + 2]));
      i += 2;
    } else {
      id += key[i];
    }
  }
  return id;
}

DatasetWriter GroupWriter::create_dataset(const std::string& name, const DatasetSpec& spec_in) {
  DatasetSpec spec = spec_in;
  const std::size_t rank = spec.shape.size();
  if (rank == 0) throw std::invalid_argument("create_dataset '" + name + "': rank 0 is not supported");
  if (spec.chunk.empty()) spec.chunk = spec.shape;
  if (spec.chunk.size() != rank)
    throw std::invalid_argument("create_dataset '" + name + "': chunk rank differs from shape rank");
  std::vector<hsize_t> dims = to_hsize(spec.shape), maxdims = dims, chunk(rank);
  for (std::size_t d = 0; d < rank; ++d) {
    // HDF5 wants chunk <= size for fixed dimensions; an empty dimension is made extendible.
    // (An extendible first dimension keeps its chunk size: it will grow.)
    if (!(spec.extendible && d == 0))
      spec.chunk[d] = std::max<std::uint64_t>(1, std::min(spec.chunk[d], std::max<std::uint64_t>(1, spec.shape[d])));
    chunk[d] = spec.chunk[d];
    if (spec.shape[d] == 0) maxdims[d] = H5S_UNLIMITED;
  }
  if (spec.extendible) maxdims[0] = H5S_UNLIMITED;
  if (!spec.codec) spec.codec = raw_codec();
  Hdf5Lock lock;
  const hid_t space =
      check_id(H5Screate_simple(static_cast<int>(rank), dims.data(), maxdims.data()), "H5Screate_simple");
  const hid_t dcpl = untimed(H5P_DATASET_CREATE);
  hid_t dset = H5I_INVALID_HID;
  try {
    check_rc(H5Pset_chunk(dcpl, static_cast<int>(rank), chunk.data()), "H5Pset_chunk");
    spec.codec->set_filters(dcpl, dtype_size(spec.dtype));
    // Chunks are written whole by us: never spend time writing fill values first.
    H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);
    dset = check_id(H5Dcreate2(object_->id, name.c_str(), file_type(spec.dtype), space, H5P_DEFAULT, dcpl, H5P_DEFAULT),
                    "cannot create dataset '" + name + "'");
  } catch (...) {
    H5Pclose(dcpl);
    H5Sclose(space);
    throw;
  }
  H5Pclose(dcpl);
  H5Sclose(space);
  return DatasetWriter(own(dset, H5Dclose), std::move(spec));
}

void GroupWriter::write_dataset(const std::string& name, DatasetSpec spec, const void* data) {
  create_dataset(name, spec).write_all(data);
}

DatasetWriter GroupWriter::create_dataset(const schema::Dataset& dataset, const DatasetSpec& spec) {
  if (spec.dtype != dataset.dtype)
    throw std::logic_error(fmt::format("dataset '{}' is {} in the schema, not {}", dataset.name,
                                       dtype_name(dataset.dtype), dtype_name(spec.dtype)));
  return create_dataset(std::string(dataset.name), spec);
}

void GroupWriter::write_dataset(const schema::Dataset& dataset, DatasetSpec spec, const void* data) {
  create_dataset(dataset, spec).write_all(data);
}

ShardWriter::ShardWriter(std::filesystem::path final_path, const Provenance& provenance)
    : AttributeWriter(nullptr), final_path_(std::move(final_path)) {
  silence_hdf5_errors();
  const auto dir = final_path_.has_parent_path() ? final_path_.parent_path() : std::filesystem::path(".");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw OutputError(dir, "creating", ec.value());
  if (!final_path_.has_parent_path()) final_path_ = dir / final_path_;
  remove_stale_temporaries(final_path_);
  temp_path_ = temporary_name(final_path_);
  std::filesystem::remove(temp_path_, ec);

  Hdf5Lock lock;
  const Scoped fapl(check_id(H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate"), H5Pclose);
  // STRONG: closing the file closes every object still open in it, so commit() always publishes
  // a complete, closed file even if the caller still holds group or dataset writers.
  H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG);
  const hid_t file = H5Fcreate(temp_path_.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, fapl.get());
  if (file < 0) {
    // HDF5 may have created the file before its first write failed (ENOSPC, EDQUOT): no 0-byte
    // temporary is left for the next run to clean up.
    std::filesystem::remove(temp_path_, ec);
    const auto reason = output_failure(final_path_, "creating");
    throw FileError(final_path_, "cannot create the shard (" + temp_path_.filename().string() + "): " + reason);
  }
  file_ = own(file, H5Fclose);
  object_ = file_;
  try {
    set(schema::root::format, schema::root::kFormatName);
    set(schema::root::format_version, kShardFormatVersion);
    set(schema::root::tool, provenance.tool);
    set(schema::root::tool_version, version());
    set(schema::root::git_commit, git_commit());
    set(schema::root::settings, provenance.settings_json.empty() ? std::string("{}") : provenance.settings_json);
    set(schema::root::created, utc_timestamp());
    set(schema::root::host, host_name());
    const hid_t gcpl = untimed(H5P_GROUP_CREATE);
    const Scoped gcpl_owner(gcpl, H5Pclose);
    const hid_t videos = H5Gcreate2(file, schema::root::kVideosGroup, H5P_DEFAULT, gcpl, H5P_DEFAULT);
    if (videos < 0) throw std::runtime_error("cannot create /videos: " + output_failure(final_path_, "writing"));
    videos_ = own(videos, H5Gclose);
  } catch (const std::exception& e) {
    file_->reset();
    std::filesystem::remove(temp_path_, ec);
    if (dynamic_cast<const OutputError*>(&e)) throw;
    throw FileError(temp_path_, e.what());
  }
}

ShardWriter::~ShardWriter() {
  if (committed_) return;
  if (videos_) videos_->reset();
  if (file_) file_->reset();
  std::error_code ec;
  std::filesystem::remove(temp_path_, ec);
}

GroupWriter ShardWriter::add_video(const std::string& id) {
  const std::string key = video_key(id);
  Hdf5Lock lock;
  if (H5Lexists(videos_->id, key.c_str(), H5P_DEFAULT) > 0)
    throw FileError(final_path_, fmt::format("video '{}' is already in this shard", id));
  const hid_t gcpl = untimed(H5P_GROUP_CREATE);
  const Scoped gcpl_owner(gcpl, H5Pclose);
  const hid_t g = H5Gcreate2(videos_->id, key.c_str(), H5P_DEFAULT, gcpl, H5P_DEFAULT);
  if (g < 0)
    throw FileError(final_path_,
                    fmt::format("cannot create the group of '{}': {}", id, output_failure(final_path_, "writing")));
  GroupWriter group(own(g, H5Gclose));
  try {
    group.set(schema::video::id, id);
  } catch (const OutputError&) {
    throw;
  } catch (const std::exception& e) {
    H5Ldelete(videos_->id, key.c_str(), H5P_DEFAULT);
    throw FileError(final_path_, fmt::format("cannot write the id of '{}': {}", id, e.what()));
  }
  return group;
}

void ShardWriter::remove_video(const std::string& id) {
  Hdf5Lock lock;
  if (H5Ldelete(videos_->id, video_key(id).c_str(), H5P_DEFAULT) < 0)
    throw FileError(final_path_,
                    fmt::format("cannot remove the group of '{}': {}", id, output_failure(final_path_, "writing")));
}

void ShardWriter::set_source(GroupWriter& video, const SourceStat& source) {
  video.set(schema::video::source_size, static_cast<std::int64_t>(source.size));
  video.set(schema::video::source_mtime_ns, source.mtime_ns);
}

void ShardWriter::commit() {
  if (committed_) throw std::logic_error("ShardWriter::commit called twice");
  {
    Hdf5Lock lock;
    if (H5Fflush(file_->id, H5F_SCOPE_GLOBAL) < 0)
      throw FileError(temp_path_, "flush failed: " + output_failure(final_path_, "writing"));
    videos_->reset();
    const hid_t id = file_->id;
    file_->id = H5I_INVALID_HID;
    if (H5Fclose(id) < 0) throw FileError(temp_path_, "close failed: " + output_failure(final_path_, "writing"));
  }
  publish_file(temp_path_, final_path_);
  committed_ = true;
}

std::vector<std::string> GroupReader::dataset_names() const {
  Hdf5Lock lock;
  H5G_info_t info{};
  check_rc(H5Gget_info(object_->id, &info), "H5Gget_info");
  std::vector<std::string> out;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    char buf[1024] = {};
    H5Lget_name_by_idx(object_->id, ".", H5_INDEX_NAME, H5_ITER_INC, i, buf, sizeof buf, H5P_DEFAULT);
    H5O_info_t oinfo{};
    if (H5Oget_info_by_name2(object_->id, buf, &oinfo, H5O_INFO_BASIC, H5P_DEFAULT) >= 0 &&
        oinfo.type == H5O_TYPE_DATASET)
      out.emplace_back(buf);
  }
  return out;
}

bool GroupReader::has_dataset(const std::string& name) const {
  Hdf5Lock lock;
  if (H5Lexists(object_->id, name.c_str(), H5P_DEFAULT) <= 0) return false;
  H5O_info_t oinfo{};
  return H5Oget_info_by_name2(object_->id, name.c_str(), &oinfo, H5O_INFO_BASIC, H5P_DEFAULT) >= 0 &&
         oinfo.type == H5O_TYPE_DATASET;
}

DatasetReader GroupReader::dataset(const std::string& name) const {
  Hdf5Lock lock;
  if (!has_dataset(name))
    throw std::runtime_error(fmt::format("{}: dataset '{}' is missing", object_path(object_->id), name));
  const hid_t d = check_id(H5Dopen2(object_->id, name.c_str(), H5P_DEFAULT), "cannot open dataset '" + name + "'");
  auto handle = own(d, H5Dclose);
  DatasetInfo info;
  const hid_t type = H5Dget_type(d);
  try {
    info.dtype = dtype_from_h5(type);
  } catch (...) {
    H5Tclose(type);
    throw;
  }
  H5Tclose(type);
  const hid_t space = H5Dget_space(d);
  const int rank = H5Sget_simple_extent_ndims(space);
  std::vector<hsize_t> dims(static_cast<std::size_t>(std::max(rank, 0)));
  H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  H5Sclose(space);
  info.shape.assign(dims.begin(), dims.end());
  const hid_t dcpl = H5Dget_create_plist(d);
  if (H5Pget_layout(dcpl) == H5D_CHUNKED) {
    std::vector<hsize_t> chunk(dims.size());
    H5Pget_chunk(dcpl, rank, chunk.data());
    info.chunk.assign(chunk.begin(), chunk.end());
  }
  H5Pclose(dcpl);
  // A filter pipeline without a codec here (another tool's filter) still reads through HDF5; only
  // decode_chunk needs the codec, and it reports why there is none.
  std::shared_ptr<const ChunkCodec> codec;
  std::string codec_error;
  if (!info.chunk.empty()) {
    try {
      codec = codec_for_dataset(d);
    } catch (const std::exception& e) {
      codec_error = fmt::format("{}: {}", object_path(d), e.what());
    }
  }
  return DatasetReader(std::move(handle), std::move(info), std::move(codec), std::move(codec_error));
}

std::optional<SourceStat> GroupReader::source() const {
  if (!has(schema::video::source_size) || !has(schema::video::source_mtime_ns)) return std::nullopt;
  SourceStat s;
  s.size = static_cast<std::uint64_t>(get(schema::video::source_size));
  s.mtime_ns = get(schema::video::source_mtime_ns);
  return s;
}

ShardReader::ShardReader(const std::filesystem::path& path) : AttributeReader(nullptr), path_(path) {
  silence_hdf5_errors();
  register_loco_filter();  // flow datasets use it; H5Dread needs it registered
  Hdf5Lock lock;
  require_regular_file(path, "a shard");
  if (H5Fis_hdf5(path.c_str()) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    throw FileError(path, "not an HDF5 file (or a damaged one)");
  }
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file < 0) throw FileError(path, "cannot open: " + hdf5_reason());
  file_ = own(file, H5Fclose);
  object_ = file_;
  if (H5Lexists(file, schema::root::kVideosGroup, H5P_DEFAULT) <= 0)
    throw FileError(path, "not a shard: it has no /videos group");
  const hid_t videos = H5Gopen2(file, schema::root::kVideosGroup, H5P_DEFAULT);
  if (videos < 0) throw FileError(path, "cannot open /videos: " + hdf5_reason());
  videos_ = own(videos, H5Gclose);
}

std::vector<std::string> ShardReader::video_ids() const {
  Hdf5Lock lock;
  H5G_info_t info{};
  check_rc(H5Gget_info(videos_->id, &info), "H5Gget_info");
  std::vector<std::string> out;
  out.reserve(info.nlinks);
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t n = H5Lget_name_by_idx(videos_->id, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    std::string name(static_cast<std::size_t>(std::max<ssize_t>(n, 0)), '\0');
    H5Lget_name_by_idx(videos_->id, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size() + 1, H5P_DEFAULT);
    out.push_back(video_id_from_key(name));
  }
  return out;
}

bool ShardReader::has_video(const std::string& id) const {
  Hdf5Lock lock;
  return H5Lexists(videos_->id, video_key(id).c_str(), H5P_DEFAULT) > 0;
}

GroupReader ShardReader::video(const std::string& id) const {
  Hdf5Lock lock;
  if (!has_video(id)) throw FileError(path_, fmt::format("video '{}' is not in this shard", id));
  const hid_t g = H5Gopen2(videos_->id, video_key(id).c_str(), H5P_DEFAULT);
  if (g < 0) throw FileError(path_, fmt::format("cannot open the group of '{}': {}", id, hdf5_reason()));
  return GroupReader(own(g, H5Gclose));
}

}  // namespace mme
