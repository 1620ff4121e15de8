#include <mme/log.h>
#include <mme/terminal.h>

#include <atomic>
#include <string>

namespace mme::log {
namespace {
std::atomic<Level> g_level{Level::info};
std::string g_prefix;  // set once at start-up, before any thread logs
}  // namespace

void set_prefix(std::string_view prefix) {
  g_prefix = prefix;
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
  line += g_prefix;
  // A message is one readable line: a 100 KB path (a hostile or generated list) keeps its start and
  // its end (the file name and the reason); the manifest and reports keep the whole text.
  constexpr std::size_t kHead = 1500, kTail = 500;
  if (message.size() > kHead + kTail + 100) {
    line += message.substr(0, kHead);
    line += " [... " + std::to_string(message.size() - kHead - kTail) + " bytes left out ...] ";
    line += message.substr(message.size() - kTail);
  } else {
    line += message;
  }
  terminal::write_line(line);
}

}  // namespace mme::log
