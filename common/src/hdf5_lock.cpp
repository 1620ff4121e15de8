#include <mme/hdf5_lock.h>

#include <fmt/format.h>
#include <hdf5.h>

#include <cstdlib>
#include <cstring>
#include <vector>

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

Hdf5Failure hdf5_failure() {
  struct Walk {
    Hdf5Failure out;
    std::vector<std::string> descriptions;  // outermost (the API call) first
  } walk;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_DOWNWARD,
      [](unsigned, const H5E_error2_t* err, void* data) -> herr_t {
        auto* w = static_cast<Walk*>(data);
        const std::string desc = err->desc ? err->desc : "";
        w->out.stack +=
            fmt::format("{}{}() {}:{}: {}", w->out.stack.empty() ? "" : "\n", err->func_name ? err->func_name : "?",
                        err->file_name ? err->file_name : "?", err->line, desc);
        // The file drivers put the system error into their description: "..., filename = 'X',
        // file descriptor = 4, errno = 28, error message = 'No space left on device', ...".
        const auto at = desc.find("errno = ");
        if (at != std::string::npos) {
          w->out.error = std::atoi(desc.c_str() + at + 8);
          w->out.writing = w->out.writing || desc.find("write failed") != std::string::npos;
          const auto name = desc.find("name = '");
          if (name != std::string::npos) {
            const auto end = desc.find('\'', name + 8);
            if (end != std::string::npos) w->out.file = desc.substr(name + 8, end - name - 8);
          }
        } else if (!desc.empty()) {
          w->descriptions.push_back(desc);
        }
        return 0;
      },
      &walk);
  H5Eclear2(H5E_DEFAULT);
  auto& out = walk.out;
  if (out.error != 0) {
    out.reason = std::strerror(out.error);
    if (!walk.descriptions.empty()) out.reason += " (" + walk.descriptions.front() + ")";
  } else if (!walk.descriptions.empty()) {
    // The innermost description says what went wrong ("data error detected by Fletcher32
    // checksum"); the ones around it only repeat that a read failed ("can't read data").
    out.reason = walk.descriptions.back();
  }
  if (out.reason.empty()) out.reason = "HDF5 error";
  return out;
}

std::string hdf5_reason() {
  return hdf5_failure().reason;
}

}  // namespace mme
