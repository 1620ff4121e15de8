#include <mme/hdf5_lock.h>

#include <hdf5.h>

namespace mme {

std::recursive_mutex& hdf5_mutex() {
  static std::recursive_mutex m;
  return m;
}

void silence_hdf5_errors() {
  thread_local const bool once = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)once;
}

Hdf5Lock::Hdf5Lock() : guard_(hdf5_mutex()) {
  silence_hdf5_errors();
}

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

}  // namespace mme
