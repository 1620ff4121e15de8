#include <mme/json_file.h>
#include <mme/shard_attributes.h>

#include "hdf5_object.h"

#include <fmt/format.h>

#include <cstring>
#include <stdexcept>

namespace mme {

using namespace detail;

namespace {

// Replaces the attribute `name` of `object` with `data` of the given types and dataspace.
void write_attribute(hid_t object, const std::string& name, hid_t file_t, hid_t mem_t, hid_t space, const void* data) {
  if (H5Aexists(object, name.c_str()) > 0) check_rc(H5Adelete(object, name.c_str()), "H5Adelete");
  const Scoped attr(check_id(H5Acreate2(object, name.c_str(), file_t, space, H5P_DEFAULT, H5P_DEFAULT),
                             "cannot create attribute " + name),
                    H5Aclose);
  check_rc(H5Awrite(attr.get(), mem_t, data), "H5Awrite");
}

// A number (count < 0: a scalar) or a list of `count` numbers.
void write_numbers(hid_t object, const std::string& name, hid_t file_t, hid_t mem_t, const void* data, long count) {
  Hdf5Lock lock;
  const hsize_t n = static_cast<hsize_t>(std::max(count, 0L));
  const Scoped space(count < 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, nullptr), H5Sclose);
  write_attribute(object, name, file_t, mem_t, space.get(), data);
}

}  // namespace

void AttributeWriter::set(const std::string& name, const std::string& value) {
  Hdf5Lock lock;
  const Scoped type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), H5T_VARIABLE);
  // A file name that is not UTF-8 is stored as it is, marked as bytes (h5py gives bytes back).
  H5Tset_cset(type.get(), valid_utf8(value) ? H5T_CSET_UTF8 : H5T_CSET_ASCII);
  const Scoped space(H5Screate(H5S_SCALAR), H5Sclose);
  const char* p = value.c_str();
  write_attribute(object_->id, name, type.get(), type.get(), space.get(), &p);
}

void AttributeWriter::set(const std::string& name, std::int64_t value) {
  write_numbers(object_->id, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value, -1);
}

void AttributeWriter::set(const std::string& name, double value) {
  write_numbers(object_->id, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value, -1);
}

void AttributeWriter::set(const std::string& name, const std::vector<std::int64_t>& values) {
  write_numbers(object_->id, name, H5T_STD_I64LE, H5T_NATIVE_INT64, values.data(), static_cast<long>(values.size()));
}

void AttributeWriter::set(const std::string& name, const std::vector<double>& values) {
  write_numbers(object_->id, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, values.data(), static_cast<long>(values.size()));
}

bool AttributeReader::has(const std::string& name) const {
  Hdf5Lock lock;
  return H5Aexists(object_->id, name.c_str()) > 0;
}

std::vector<std::string> AttributeReader::names() const {
  Hdf5Lock lock;
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
  Hdf5Lock lock;
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
  Hdf5Lock lock;
  OpenAttribute a(object_->id, name);
  if (H5Tget_class(a.type) != H5T_STRING)
    throw std::runtime_error(fmt::format("{}: attribute '{}' is not a string", object_path(object_->id), name));
  if (H5Tis_variable_str(a.type) > 0) {
    const Scoped mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem.get(), H5T_VARIABLE);
    H5Tset_cset(mem.get(), H5Tget_cset(a.type));
    char* p = nullptr;
    check_rc(H5Aread(a.attr, mem.get(), &p), "H5Aread");
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

}  // namespace mme
