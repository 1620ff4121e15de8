#pragma once
// The HDF5 plumbing under the shard store (private to common/src): an owner for each hid_t, error
// checks that turn HDF5's stack into exceptions, and the element types. Every function here
// expects the caller to hold the HDF5 lock (mme/hdf5_lock.h).
#include <mme/chunk_codec.h>
#include <mme/hdf5_lock.h>

#include <hdf5.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace mme::detail {

// Owns one hid_t. Closing is skipped when the id is no longer valid: a file closed with
// H5F_CLOSE_STRONG has already closed the objects inside it.
struct Handle {
  hid_t id = H5I_INVALID_HID;
  herr_t (*close)(hid_t) = nullptr;
  Handle(hid_t i, herr_t (*c)(hid_t)) : id(i), close(c) {}
  ~Handle() { reset(); }
  void reset();
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
};

inline std::shared_ptr<Handle> own(hid_t id, herr_t (*close)(hid_t)) {
  return std::make_shared<Handle>(id, close);
}

// A property list, dataspace or type closed at the end of the scope.
class Scoped {
 public:
  Scoped(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Scoped() {
    if (id_ >= 0) close_(id_);
  }
  Scoped(const Scoped&) = delete;
  Scoped& operator=(const Scoped&) = delete;
  hid_t get() const { return id_; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

// "shard.h5:/videos/a%2Fb.mp4", for messages that must say where.
std::string object_path(hid_t id);

// Throw std::runtime_error("<what>: <HDF5's reason>") on failure, or OutputError when the file
// driver failed writing with a system error (a full disk): that stops the run, not a video. The
// whole stack goes to the verbose log.
[[noreturn]] void fail(const std::string& what);

// After a failed HDF5 call that creates or writes the output file `output`: throws OutputError
// (`operation`, the system error) when the driver met one; else returns HDF5's reason.
std::string output_failure(const std::filesystem::path& output, const char* operation);

inline hid_t check_id(hid_t id, const std::string& what) {
  if (id < 0) fail(what);
  return id;
}
inline void check_rc(herr_t rc, const char* what) {
  if (rc < 0) fail(what);
}

hid_t file_type(DType t);    // little-endian stored type
hid_t memory_type(DType t);  // native type
DType dtype_from_h5(hid_t type);

// Creation properties without modification times, so identical content gives identical bytes
// (HDF5 stamps every object header with times by default).
hid_t untimed(hid_t plist_class);

inline std::vector<hsize_t> to_hsize(const std::vector<std::uint64_t>& v) {
  return {v.begin(), v.end()};
}
inline std::size_t product(const std::vector<std::uint64_t>& v) {
  std::size_t p = 1;
  for (auto x : v) p *= static_cast<std::size_t>(x);
  return p;
}

}  // namespace mme::detail
