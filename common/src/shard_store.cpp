#include <mme/error.h>
#include <mme/loco_filter.h>
#include <mme/shard_store.h>
#include <mme/version.h>

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <functional>
#include <stdexcept>

namespace mme {

std::recursive_mutex& hdf5_mutex() {
  static std::recursive_mutex m;
  return m;
}

namespace detail {

// Owns one hid_t. Closing is skipped when the id is no longer valid: a file closed with
// H5F_CLOSE_STRONG has already closed the objects inside it.
struct Handle {
  hid_t id = H5I_INVALID_HID;
  herr_t (*close)(hid_t) = nullptr;
  Handle(hid_t i, herr_t (*c)(hid_t)) : id(i), close(c) {}
  ~Handle() { reset(); }
  void reset() {
    std::lock_guard lock(hdf5_mutex());
    if (id >= 0 && H5Iis_valid(id) > 0) close(id);
    id = H5I_INVALID_HID;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
};

}  // namespace detail

namespace {

using detail::Handle;
// HDF5 prints its error stack to stderr by default; we turn failures into messages instead. In a
// thread-safe build that setting is per thread, so every thread that enters HDF5 sets it once.
void silence_hdf5_errors() {
  thread_local const bool once = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)once;
}

// The project-wide HDF5 lock, plus the per-thread error silencing.
struct Lock {
  std::lock_guard<std::recursive_mutex> guard{hdf5_mutex()};
  Lock() { silence_hdf5_errors(); }
  explicit Lock(std::recursive_mutex&) : Lock() {}
};

// The most specific description on HDF5's error stack, e.g. "unable to open file".
std::string hdf5_reason() {
  std::string reason;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_DOWNWARD,
      [](unsigned n, const H5E_error2_t* err, void* data) -> herr_t {
        auto* out = static_cast<std::string*>(data);
        if (err->desc && *err->desc) {
          if (n == 0)
            *out = err->desc;
          else
            *out = std::string(err->desc) + " (" + *out + ")";
        }
        return 0;
      },
      &reason);
  H5Eclear2(H5E_DEFAULT);
  return reason.empty() ? "HDF5 error" : reason;
}

// "shard.h5:/videos/a%2Fb.mp4" for messages that must say where.
std::string object_path(hid_t id) {
  char file[4096] = {}, name[4096] = {};
  H5Fget_name(id, file, sizeof file);
  H5Iget_name(id, name, sizeof name);
  H5Eclear2(H5E_DEFAULT);
  return std::string(file) + ":" + name;
}

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what + ": " + hdf5_reason());
}

hid_t check_id(hid_t id, const std::string& what) {
  if (id < 0) fail(what);
  return id;
}
void check_rc(herr_t rc, const char* what) {
  if (rc < 0) fail(what);
}

std::shared_ptr<Handle> own(hid_t id, herr_t (*close)(hid_t)) {
  return std::make_shared<Handle>(id, close);
}

hid_t half_float_type() {
  // IEEE 754 binary16, as numpy's float16 (h5py reads it as such).
  static const hid_t t = [] {
    hid_t h = H5Tcopy(H5T_IEEE_F32LE);
    H5Tset_fields(h, 15, 10, 5, 0, 10);
    H5Tset_size(h, 2);
    H5Tset_ebias(h, 15);
    H5Tset_precision(h, 16);
    H5Tlock(h);
    return h;
  }();
  return t;
}

hid_t file_type(DType t) {
  switch (t) {
    case DType::u8:
      return H5T_STD_U8LE;
    case DType::i8:
      return H5T_STD_I8LE;
    case DType::u16:
      return H5T_STD_U16LE;
    case DType::i16:
      return H5T_STD_I16LE;
    case DType::u32:
      return H5T_STD_U32LE;
    case DType::i32:
      return H5T_STD_I32LE;
    case DType::i64:
      return H5T_STD_I64LE;
    case DType::f16:
      return half_float_type();
    case DType::f32:
      return H5T_IEEE_F32LE;
    case DType::f64:
      return H5T_IEEE_F64LE;
  }
  throw std::logic_error("file_type: unknown dtype");
}

hid_t memory_type(DType t) {
  switch (t) {
    case DType::u8:
      return H5T_NATIVE_UINT8;
    case DType::i8:
      return H5T_NATIVE_INT8;
    case DType::u16:
      return H5T_NATIVE_UINT16;
    case DType::i16:
      return H5T_NATIVE_INT16;
    case DType::u32:
      return H5T_NATIVE_UINT32;
    case DType::i32:
      return H5T_NATIVE_INT32;
    case DType::i64:
      return H5T_NATIVE_INT64;
    case DType::f16:
      return half_float_type();
    case DType::f32:
      return H5T_NATIVE_FLOAT;
    case DType::f64:
      return H5T_NATIVE_DOUBLE;
  }
  throw std::logic_error("memory_type: unknown dtype");
}

DType dtype_from_h5(hid_t type) {
  const H5T_class_t cls = H5Tget_class(type);
  const std::size_t size = H5Tget_size(type);
  if (cls == H5T_INTEGER) {
    const bool is_signed = H5Tget_sign(type) == H5T_SGN_2;
    switch (size) {
      case 1:
        return is_signed ? DType::i8 : DType::u8;
      case 2:
        return is_signed ? DType::i16 : DType::u16;
      case 4:
        return is_signed ? DType::i32 : DType::u32;
      case 8:
        if (is_signed) return DType::i64;
        break;
    }
  } else if (cls == H5T_FLOAT) {
    switch (size) {
      case 2:
        return DType::f16;
      case 4:
        return DType::f32;
      case 8:
        return DType::f64;
    }
  }
  throw std::runtime_error(
      fmt::format("unsupported HDF5 element type (class {}, {} bytes)", static_cast<int>(cls), size));
}

// Object creation properties without modification times, so identical content gives identical
// bytes (HDF5 stamps every object header with times by default).
hid_t untimed(hid_t plist_class) {
  const hid_t p = check_id(H5Pcreate(plist_class), "H5Pcreate");
  H5Pset_obj_track_times(p, false);
  return p;
}

void write_attribute(hid_t object, const std::string& name, hid_t file_t, hid_t mem_t, hid_t space, const void* data) {
  if (H5Aexists(object, name.c_str()) > 0) check_rc(H5Adelete(object, name.c_str()), "H5Adelete");
  const hid_t attr = check_id(H5Acreate2(object, name.c_str(), file_t, space, H5P_DEFAULT, H5P_DEFAULT),
                              "cannot create attribute " + name);
  const herr_t rc = H5Awrite(attr, mem_t, data);
  H5Aclose(attr);
  check_rc(rc, "H5Awrite");
}

std::vector<hsize_t> to_hsize(const std::vector<std::uint64_t>& v) {
  return {v.begin(), v.end()};
}

std::size_t product(const std::vector<std::uint64_t>& v) {
  std::size_t p = 1;
  for (auto x : v) p *= static_cast<std::size_t>(x);
  return p;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Keys: ids are paths, but '/' separates HDF5 groups, so it is percent-escaped (and '%' itself).

std::string video_key(const std::string& id) {
  std::string key;
  for (char c : id) {
    if (c == '%')
      key += "%25";
    else if (c == '/')
      key += "%2F";
    else
      key += c;
  }
  if (key == "." || key.empty()) key = key == "." ? "%2E" : "%00";
  return key;
}

std::string video_id_from_key(const std::string& key) {
  if (key == "%2E") return ".";
  if (key == "%00") return "";
  std::string id;
  for (std::size_t i = 0; i < key.size(); ++i) {
    if (key.compare(i, 3, "%25") == 0) {
      id += '%';
      i += 2;
    } else if (key.compare(i, 3, "%2F") == 0) {
      id += '/';
      i += 2;
    } else {
      id += key[i];
    }
  }
  return id;
}

// ---------------------------------------------------------------------------------------------
// Attributes

void AttributeWriter::set(const std::string& name, const std::string& value) {
  Lock lock(hdf5_mutex());
  const hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, H5T_VARIABLE);
  H5Tset_cset(type, H5T_CSET_UTF8);
  const hid_t space = H5Screate(H5S_SCALAR);
  const char* p = value.c_str();
  try {
    write_attribute(object_->id, name, type, type, space, &p);
  } catch (...) {
    H5Sclose(space);
    H5Tclose(type);
    throw;
  }
  H5Sclose(space);
  H5Tclose(type);
}

void AttributeWriter::set(const std::string& name, std::int64_t value) {
  Lock lock(hdf5_mutex());
  const hid_t space = H5Screate(H5S_SCALAR);
  try {
    write_attribute(object_->id, name, H5T_STD_I64LE, H5T_NATIVE_INT64, space, &value);
  } catch (...) {
    H5Sclose(space);
    throw;
  }
  H5Sclose(space);
}

void AttributeWriter::set(const std::string& name, double value) {
  Lock lock(hdf5_mutex());
  const hid_t space = H5Screate(H5S_SCALAR);
  try {
    write_attribute(object_->id, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, space, &value);
  } catch (...) {
    H5Sclose(space);
    throw;
  }
  H5Sclose(space);
}

void AttributeWriter::set(const std::string& name, const std::vector<std::int64_t>& values) {
  Lock lock(hdf5_mutex());
  const hsize_t n = values.size();
  const hid_t space = H5Screate_simple(1, &n, nullptr);
  try {
    write_attribute(object_->id, name, H5T_STD_I64LE, H5T_NATIVE_INT64, space, values.data());
  } catch (...) {
    H5Sclose(space);
    throw;
  }
  H5Sclose(space);
}

void AttributeWriter::set(const std::string& name, const std::vector<double>& values) {
  Lock lock(hdf5_mutex());
  const hsize_t n = values.size();
  const hid_t space = H5Screate_simple(1, &n, nullptr);
  try {
    write_attribute(object_->id, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, space, values.data());
  } catch (...) {
    H5Sclose(space);
    throw;
  }
  H5Sclose(space);
}

bool AttributeReader::has(const std::string& name) const {
  Lock lock(hdf5_mutex());
  return H5Aexists(object_->id, name.c_str()) > 0;
}

std::vector<std::string> AttributeReader::names() const {
  Lock lock(hdf5_mutex());
  H5O_info_t info{};
  check_rc(H5Oget_info2(object_->id, &info, H5O_INFO_NUM_ATTRS), "H5Oget_info2");
  std::vector<std::string> out;
  for (hsize_t i = 0; i < info.num_attrs; ++i) {
    char buf[1024] = {};
    H5Aget_name_by_idx(object_->id, ".", H5_INDEX_NAME, H5_ITER_INC, i, buf, sizeof buf, H5P_DEFAULT);
    out.emplace_back(buf);
  }
  return out;
}

namespace {

struct OpenAttribute {
  hid_t attr, type, space;
  OpenAttribute(hid_t object, const std::string& name) {
    if (H5Aexists(object, name.c_str()) <= 0) {
      H5Eclear2(H5E_DEFAULT);
      throw std::runtime_error(fmt::format("{}: attribute '{}' is missing", object_path(object), name));
    }
    attr = check_id(H5Aopen(object, name.c_str(), H5P_DEFAULT), "cannot open attribute " + name);
    type = H5Aget_type(attr);
    space = H5Aget_space(attr);
  }
  ~OpenAttribute() {
    H5Sclose(space);
    H5Tclose(type);
    H5Aclose(attr);
  }
  hssize_t count() const { return H5Sget_simple_extent_npoints(space); }
};

template <typename T>
std::vector<T> read_numeric_attribute(hid_t object, const std::string& name, hid_t mem_type, bool integer_only) {
  Lock lock(hdf5_mutex());
  OpenAttribute a(object, name);
  const H5T_class_t cls = H5Tget_class(a.type);
  if (!(cls == H5T_INTEGER || (!integer_only && cls == H5T_FLOAT)))
    throw std::runtime_error(fmt::format("{}: attribute '{}' is not {}", object_path(object), name,
                                         integer_only ? "an integer" : "a number"));
  std::vector<T> out(static_cast<std::size_t>(a.count()));
  check_rc(H5Aread(a.attr, mem_type, out.data()), "H5Aread");
  return out;
}

}  // namespace

std::string AttributeReader::get_string(const std::string& name) const {
  Lock lock(hdf5_mutex());
  OpenAttribute a(object_->id, name);
  if (H5Tget_class(a.type) != H5T_STRING) throw std::runtime_error(fmt::format("attribute '{}' is not a string", name));
  if (H5Tis_variable_str(a.type) > 0) {
    const hid_t mem = H5Tcopy(H5T_C_S1);
    H5Tset_size(mem, H5T_VARIABLE);
    H5Tset_cset(mem, H5Tget_cset(a.type));
    char* p = nullptr;
    const herr_t rc = H5Aread(a.attr, mem, &p);
    H5Tclose(mem);
    check_rc(rc, "H5Aread");
    std::string out = p ? p : "";
    H5free_memory(p);
    return out;
  }
  const std::size_t size = H5Tget_size(a.type);
  std::string out(size, '\0');
  check_rc(H5Aread(a.attr, a.type, out.data()), "H5Aread");
  out.resize(std::strlen(out.c_str()));
  return out;
}

std::int64_t AttributeReader::get_int(const std::string& name) const {
  auto v = get_ints(name);
  if (v.size() != 1) throw std::runtime_error(fmt::format("attribute '{}' is not a scalar", name));
  return v[0];
}
double AttributeReader::get_double(const std::string& name) const {
  auto v = get_doubles(name);
  if (v.size() != 1) throw std::runtime_error(fmt::format("attribute '{}' is not a scalar", name));
  return v[0];
}
std::vector<std::int64_t> AttributeReader::get_ints(const std::string& name) const {
  return read_numeric_attribute<std::int64_t>(object_->id, name, H5T_NATIVE_INT64, true);
}
std::vector<double> AttributeReader::get_doubles(const std::string& name) const {
  return read_numeric_attribute<double>(object_->id, name, H5T_NATIVE_DOUBLE, false);
}

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
  Lock lock(hdf5_mutex());
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
  Lock lock(hdf5_mutex());
  check_rc(H5Dset_extent(object_->id, dims.data()), "H5Dset_extent");
  spec_.shape[0] = first_dim;
}

void DatasetWriter::write_slab(const std::vector<std::uint64_t>& offset, const std::vector<std::uint64_t>& count,
                               const void* data) {
  const auto off = to_hsize(offset), cnt = to_hsize(count);
  if (off.size() != spec_.shape.size() || cnt.size() != spec_.shape.size())
    throw std::invalid_argument("write_slab: rank differs from the dataset's");
  if (product(count) == 0) return;
  Lock lock(hdf5_mutex());
  const hid_t file_space = check_id(H5Dget_space(object_->id), "H5Dget_space");
  const hid_t mem_space = H5Screate_simple(static_cast<int>(cnt.size()), cnt.data(), nullptr);
  herr_t rc = H5Sselect_hyperslab(file_space, H5S_SELECT_SET, off.data(), nullptr, cnt.data(), nullptr);
  if (rc >= 0) rc = H5Dwrite(object_->id, memory_type(spec_.dtype), mem_space, file_space, H5P_DEFAULT, data);
  H5Sclose(mem_space);
  H5Sclose(file_space);
  check_rc(rc, "H5Dwrite");
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
  Lock lock(hdf5_mutex());
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

GroupWriter GroupWriter::create_group(const std::string& name) {
  Lock lock(hdf5_mutex());
  const hid_t gcpl = untimed(H5P_GROUP_CREATE);
  const hid_t g = H5Gcreate2(object_->id, name.c_str(), H5P_DEFAULT, gcpl, H5P_DEFAULT);
  const std::string reason = g < 0 ? hdf5_reason() : "";
  H5Pclose(gcpl);
  if (g < 0) throw std::runtime_error("cannot create group '" + name + "': " + reason);
  return GroupWriter(own(g, H5Gclose));
}

namespace {

std::string temp_prefix(const std::filesystem::path& final_path) {
  return final_path.filename().string() + ".tmp-" + host_name() + "-";
}

// A killed writer leaves "<final>.tmp-<host>-<pid>": remove those whose process is gone. Only
// this host's are touched, since another host's pids cannot be checked from here.
void remove_stale_temporaries(const std::filesystem::path& final_path) {
  const std::string prefix = temp_prefix(final_path);
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(final_path.parent_path(), ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    char* end = nullptr;
    const long pid = std::strtol(name.c_str() + prefix.size(), &end, 10);
    if (pid <= 0 || *end != '.') continue;
    if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) std::filesystem::remove(entry.path(), ec);
  }
}

void fsync_path(const std::filesystem::path& p, bool directory) {
  const int fd = ::open(p.c_str(), (directory ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw FileError(p, std::string("cannot open for fsync: ") + std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) throw FileError(p, std::string("fsync failed: ") + std::strerror(err));
}

}  // namespace

ShardWriter::ShardWriter(std::filesystem::path final_path, const Provenance& provenance)
    : AttributeWriter(nullptr), final_path_(std::move(final_path)) {
  silence_hdf5_errors();
  const auto dir = final_path_.has_parent_path() ? final_path_.parent_path() : std::filesystem::path(".");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw FileError(dir, "cannot create the output directory: " + ec.message());
  if (!final_path_.has_parent_path()) final_path_ = dir / final_path_;
  remove_stale_temporaries(final_path_);
  // The pid names the writer for stale-file clean-up; the counter keeps two writers of one process apart.
  static std::atomic<unsigned> counter{0};
  temp_path_ = final_path_.parent_path() /
               (temp_prefix(final_path_) + std::to_string(::getpid()) + "." + std::to_string(counter++));
  std::filesystem::remove(temp_path_, ec);

  Lock lock(hdf5_mutex());
  const hid_t fapl = check_id(H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate");
  // STRONG: closing the file closes every object still open in it, so commit() always publishes
  // a complete, closed file even if the caller still holds group or dataset writers.
  H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
  const hid_t file = H5Fcreate(temp_path_.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, fapl);
  const std::string reason = file < 0 ? hdf5_reason() : "";
  H5Pclose(fapl);
  if (file < 0)
    throw FileError(final_path_, "cannot create the shard (" + temp_path_.filename().string() + "): " + reason);
  file_ = own(file, H5Fclose);
  object_ = file_;
  try {
    set("format", "mme-shard");
    set("format_version", kShardFormatVersion);
    set("tool", provenance.tool);
    set("tool_version", version());
    set("git_commit", git_commit());
    set("settings", provenance.settings_json.empty() ? std::string("{}") : provenance.settings_json);
    set("created", utc_timestamp());
    set("host", host_name());
    const hid_t gcpl = untimed(H5P_GROUP_CREATE);
    const hid_t videos = H5Gcreate2(file, "videos", H5P_DEFAULT, gcpl, H5P_DEFAULT);
    const std::string why = videos < 0 ? hdf5_reason() : "";
    H5Pclose(gcpl);
    if (videos < 0) throw std::runtime_error("cannot create /videos: " + why);
    videos_ = own(videos, H5Gclose);
  } catch (const std::exception& e) {
    file_->reset();
    std::filesystem::remove(temp_path_, ec);
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
  Lock lock(hdf5_mutex());
  if (H5Lexists(videos_->id, key.c_str(), H5P_DEFAULT) > 0)
    throw FileError(final_path_, fmt::format("video '{}' is already in this shard", id));
  const hid_t gcpl = untimed(H5P_GROUP_CREATE);
  const hid_t g = H5Gcreate2(videos_->id, key.c_str(), H5P_DEFAULT, gcpl, H5P_DEFAULT);
  const std::string reason = g < 0 ? hdf5_reason() : "";
  H5Pclose(gcpl);
  if (g < 0) throw FileError(final_path_, fmt::format("cannot create the group of '{}': {}", id, reason));
  GroupWriter group(own(g, H5Gclose));
  try {
    group.set("id", id);
  } catch (const std::exception& e) {
    H5Ldelete(videos_->id, key.c_str(), H5P_DEFAULT);
    throw FileError(final_path_, fmt::format("cannot write the id of '{}': {}", id, e.what()));
  }
  return group;
}

void ShardWriter::remove_video(const std::string& id) {
  Lock lock(hdf5_mutex());
  if (H5Ldelete(videos_->id, video_key(id).c_str(), H5P_DEFAULT) < 0)
    throw FileError(final_path_, fmt::format("cannot remove the group of '{}': {}", id, hdf5_reason()));
}

void ShardWriter::set_source(GroupWriter& video, const SourceStat& source) {
  video.set("source_size", static_cast<std::int64_t>(source.size));
  video.set("source_mtime_ns", source.mtime_ns);
}

void ShardWriter::commit() {
  if (committed_) throw std::logic_error("ShardWriter::commit called twice");
  {
    Lock lock(hdf5_mutex());
    if (H5Fflush(file_->id, H5F_SCOPE_GLOBAL) < 0) throw FileError(temp_path_, "flush failed: " + hdf5_reason());
    videos_->reset();
    const hid_t id = file_->id;
    file_->id = H5I_INVALID_HID;
    if (H5Fclose(id) < 0) throw FileError(temp_path_, "close failed: " + hdf5_reason());
  }
  fsync_path(temp_path_, false);
  std::error_code ec;
  std::filesystem::rename(temp_path_, final_path_, ec);
  if (ec) throw FileError(final_path_, "cannot publish the shard (rename failed): " + ec.message());
  fsync_path(final_path_.parent_path(), true);
  committed_ = true;
}

// ---------------------------------------------------------------------------------------------
// Reading

std::uint64_t DatasetInfo::elements() const {
  return product(shape);
}

DatasetReader::DatasetReader(std::shared_ptr<Handle> dataset, DatasetInfo info, std::shared_ptr<const ChunkCodec> codec)
    : AttributeReader(std::move(dataset)), info_(std::move(info)), codec_(std::move(codec)) {}

std::size_t DatasetReader::chunk_bytes() const {
  return product(info_.chunk) * dtype_size(info_.dtype);
}

std::vector<std::uint8_t> DatasetReader::read_bytes(DType as) const {
  std::vector<std::uint8_t> out(info_.elements() * dtype_size(as));
  if (out.empty()) return out;
  Lock lock(hdf5_mutex());
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
  Lock lock(hdf5_mutex());
  const hid_t file_space = check_id(H5Dget_space(object_->id), "H5Dget_space");
  const hid_t mem_space = H5Screate_simple(static_cast<int>(cnt.size()), cnt.data(), nullptr);
  herr_t rc = H5Sselect_hyperslab(file_space, H5S_SELECT_SET, off.data(), nullptr, cnt.data(), nullptr);
  if (rc >= 0) rc = H5Dread(object_->id, memory_type(as), mem_space, file_space, H5P_DEFAULT, out.data());
  H5Sclose(mem_space);
  H5Sclose(file_space);
  check_rc(rc, "H5Dread");
  return out;
}

std::vector<std::uint8_t> DatasetReader::read_encoded_chunk(const std::vector<std::uint64_t>& offset,
                                                            std::uint32_t* filter_mask) const {
  if (info_.chunk.empty()) throw std::runtime_error("read_encoded_chunk: the dataset is not chunked");
  const auto off = to_hsize(offset);
  Lock lock(hdf5_mutex());
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
  if (!codec_) throw std::runtime_error("no chunk codec for this dataset's filters");
  return codec_->decode(encoded.data(), encoded.size(), dtype_size(info_.dtype), chunk_bytes(), filter_mask);
}

std::vector<std::string> GroupReader::dataset_names() const {
  Lock lock(hdf5_mutex());
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
  Lock lock(hdf5_mutex());
  if (H5Lexists(object_->id, name.c_str(), H5P_DEFAULT) <= 0) return false;
  H5O_info_t oinfo{};
  return H5Oget_info_by_name2(object_->id, name.c_str(), &oinfo, H5O_INFO_BASIC, H5P_DEFAULT) >= 0 &&
         oinfo.type == H5O_TYPE_DATASET;
}

DatasetReader GroupReader::dataset(const std::string& name) const {
  Lock lock(hdf5_mutex());
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
  std::shared_ptr<const ChunkCodec> codec;
  if (!info.chunk.empty()) {
    try {
      codec = codec_for_dataset(d);
    } catch (const std::exception&) {
      codec = nullptr;
    }
  }
  return DatasetReader(std::move(handle), std::move(info), std::move(codec));
}

std::optional<SourceStat> GroupReader::source() const {
  if (!has("source_size") || !has("source_mtime_ns")) return std::nullopt;
  SourceStat s;
  s.size = static_cast<std::uint64_t>(get_int("source_size"));
  s.mtime_ns = get_int("source_mtime_ns");
  return s;
}

ShardReader::ShardReader(const std::filesystem::path& path) : AttributeReader(nullptr), path_(path) {
  silence_hdf5_errors();
  register_loco_filter();  // flow datasets use it; H5Dread needs it registered
  Lock lock(hdf5_mutex());
  if (!std::filesystem::exists(path)) throw FileError(path, "no such file");
  if (H5Fis_hdf5(path.c_str()) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    throw FileError(path, "not an HDF5 file (or a damaged one)");
  }
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file < 0) throw FileError(path, "cannot open: " + hdf5_reason());
  file_ = own(file, H5Fclose);
  object_ = file_;
  if (H5Lexists(file, "videos", H5P_DEFAULT) <= 0) throw FileError(path, "not a shard: it has no /videos group");
  const hid_t videos = H5Gopen2(file, "videos", H5P_DEFAULT);
  if (videos < 0) throw FileError(path, "cannot open /videos: " + hdf5_reason());
  videos_ = own(videos, H5Gclose);
}

std::vector<std::string> ShardReader::video_ids() const {
  Lock lock(hdf5_mutex());
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
  Lock lock(hdf5_mutex());
  return H5Lexists(videos_->id, video_key(id).c_str(), H5P_DEFAULT) > 0;
}

GroupReader ShardReader::video(const std::string& id) const {
  Lock lock(hdf5_mutex());
  if (!has_video(id)) throw FileError(path_, fmt::format("video '{}' is not in this shard", id));
  const hid_t g = H5Gopen2(videos_->id, video_key(id).c_str(), H5P_DEFAULT);
  if (g < 0) throw FileError(path_, fmt::format("cannot open the group of '{}': {}", id, hdf5_reason()));
  return GroupReader(own(g, H5Gclose));
}

}  // namespace mme
