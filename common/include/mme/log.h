#pragma once
// Logging to stderr with fmt. Quiet by default: warnings and errors always, info unless --quiet,
// debug with --verbose. Thread-safe: one line is written at a time, and a progress line that is
// on the terminal is cleared first and redrawn after.
#include <fmt/format.h>

#include <string_view>

namespace mme::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3, off = 4 };

void set_level(Level level);
Level level();
// Text put ahead of every line (after the level), e.g. "rank 3: " in a data-parallel run.
void set_prefix(std::string_view prefix);
void write(Level level, std::string_view message);

template <typename... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) {
  if (level() <= Level::debug) write(Level::debug, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void info(fmt::format_string<Args...> f, Args&&... args) {
  if (level() <= Level::info) write(Level::info, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void warn(fmt::format_string<Args...> f, Args&&... args) {
  if (level() <= Level::warn) write(Level::warn, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void error(fmt::format_string<Args...> f, Args&&... args) {
  if (level() <= Level::error) write(Level::error, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace mme::log
