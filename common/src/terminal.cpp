#include <mme/terminal.h>

#include <unistd.h>

#include <cstdio>
#include <mutex>

namespace mme::terminal {
namespace {

std::mutex& mutex() {
  static std::mutex m;
  return m;
}
std::string& status() {
  static std::string s;
  return s;
}

// "\r" + erase-line: puts the cursor at the start of a now empty line.
constexpr const char* kClear = "\r\033[K";

}  // namespace

bool stderr_is_tty() {
  static const bool tty = isatty(fileno(stderr)) != 0;
  return tty;
}

void set_status(const std::string& line) {
  if (!stderr_is_tty()) return;
  std::lock_guard lock(mutex());
  status() = line;
  std::fprintf(stderr, "%s%s", kClear, line.c_str());
  std::fflush(stderr);
}

void clear_status() {
  if (!stderr_is_tty()) return;
  std::lock_guard lock(mutex());
  if (!status().empty()) std::fputs(kClear, stderr);
  status().clear();
  std::fflush(stderr);
}

void write_line(const std::string& line) {
  std::lock_guard lock(mutex());
  const bool redraw = stderr_is_tty() && !status().empty();
  if (redraw) std::fputs(kClear, stderr);
  std::fputs(line.c_str(), stderr);
  std::fputc('\n', stderr);
  if (redraw) std::fputs(status().c_str(), stderr);
  std::fflush(stderr);
}

}  // namespace mme::terminal
