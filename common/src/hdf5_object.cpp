#include "hdf5_object.h"

#include <mme/atomic_file.h>
#include <mme/error.h>
#include <mme/log.h>

#include <fmt/format.h>

#include <stdexcept>

namespace mme::detail {

void Handle::reset() {
  std::lock_guard lock(hdf5_mutex());
  if (id >= 0 && H5Iis_valid(id) > 0) close(id);
  id = H5I_INVALID_HID;
}

std::string object_path(hid_t id) {
  char file[4096] = {}, name[4096] = {};
  H5Fget_name(id, file, sizeof file);
  H5Iget_name(id, name, sizeof name);
  H5Eclear2(H5E_DEFAULT);
  return std::string(file) + ":" + name;
}

namespace {

// HDF5 registers H5close with atexit; after a write failed on a full disk, a file whose close
// failed is still open in the library, and closing it again at exit crashes HDF5 1.10
// (H5F__close_cb). Every file is closed by its owner; the operating system closes the rest.
const bool kNoAtexit = [] {
  H5dont_atexit();
  return true;
}();

Hdf5Failure logged_failure() {
  auto f = hdf5_failure();
  (void)kNoAtexit;
  if (!f.stack.empty()) log::debug("HDF5 error stack:\n{}", f.stack);
  return f;
}

}  // namespace

void fail(const std::string& what) {
  const auto f = logged_failure();
  if (f.error != 0 && f.writing) throw OutputError(published_name(f.file), "writing", f.error);
  throw std::runtime_error(what + ": " + f.reason);
}

std::string output_failure(const std::filesystem::path& output, const char* operation) {
  const auto f = logged_failure();
  if (f.error != 0) throw OutputError(published_name(output.string()), operation, f.error);
  return f.reason;
}

namespace {

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

}  // namespace

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

hid_t untimed(hid_t plist_class) {
  const hid_t p = check_id(H5Pcreate(plist_class), "H5Pcreate");
  H5Pset_obj_track_times(p, false);
  return p;
}

}  // namespace mme::detail
