#include <flowgen/backend_module.h>

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <stdexcept>
#include <vector>

namespace flowgen {

namespace fs = std::filesystem;

namespace {

std::vector<fs::path> module_dirs() {
  std::vector<fs::path> dirs;
  if (const char* env = std::getenv("MME_FLOWGEN_MODULES"); env && *env) dirs.emplace_back(env);
  std::error_code ec;
  const auto exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    dirs.push_back(exe.parent_path());
    dirs.push_back(exe.parent_path() / ".." / "lib" / "mme");
  }
#ifdef MME_FLOWGEN_MODULE_BUILD_DIR
  dirs.emplace_back(MME_FLOWGEN_MODULE_BUILD_DIR);
#endif
  return dirs;
}

}  // namespace

BackendFactory backend_module(const std::string& name) {
  static std::mutex mutex;
  static std::map<std::string, BackendFactory> loaded;
  std::lock_guard lock(mutex);
  if (const auto it = loaded.find(name); it != loaded.end()) return it->second;
  std::string tried;
  for (const auto& dir : module_dirs()) {
    const auto file = dir / ("lib" + name + ".so");
    std::error_code ec;
    if (!fs::exists(file, ec)) {
      tried += "\n  " + file.string() + ": not there";
      continue;
    }
    // Never closed: a backend's code must stay while any backend lives, until the process ends.
    void* handle = ::dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      tried += "\n  " + file.string() + ": " + ::dlerror();
      continue;
    }
    auto factory = reinterpret_cast<BackendFactory>(::dlsym(handle, kBackendFactorySymbol));
    if (!factory) {
      tried += "\n  " + file.string() + ": has no " + kBackendFactorySymbol;
      continue;
    }
    loaded[name] = factory;
    return factory;
  }
  throw std::runtime_error("cannot load the flow backend module lib" + name +
                           ".so (built with LibTorch; set MME_FLOWGEN_MODULES to its directory):" + tried);
}

}  // namespace flowgen
