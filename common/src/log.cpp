#include <mme/log.h>
#include <mme/terminal.h>

#include <atomic>
#include <string>

namespace mme::log {
namespace {
std::atomic<Level> g_level{Level::info};
}

void set_level(Level l) {
  g_level.store(l);
}
Level level() {
  return g_level.load(std::memory_order_relaxed);
}

void write(Level l, std::string_view message) {
  static constexpr const char* kPrefix[] = {"debug: ", "", "warning: ", "error: ", ""};
  std::string line = kPrefix[static_cast<int>(l)];
  line += message;
  terminal::write_line(line);
}

}  // namespace mme::log
