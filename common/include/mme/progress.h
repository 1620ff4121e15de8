#pragma once
// A progress line: "label  done/total  rate unit/s  ETA". On a terminal it is redrawn in place at
// most every 100 ms; otherwise (logs of cluster jobs) a plain line is printed every `plain_interval`
// seconds and at the end. Extra counters (e.g. flow pairs next to videos) get their own rate.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace mme {

class Progress {
 public:
  Progress(std::string label, std::int64_t total, std::string unit = "items");
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Adds a secondary counter shown with its own rate (e.g. "pairs"); returns its index.
  std::size_t add_counter(std::string unit);
  void advance(std::int64_t n = 1);
  void advance_counter(std::size_t counter, std::int64_t n);
  // Prints the final line (also done by the destructor).
  void finish();
  // Ends without a final line (a run stopped by a fatal error: a rate and an ETA would mislead).
  void abandon();

  // The line as it would be printed now; exposed for tests.
  std::string line() const;

  static void set_plain_interval(double seconds);
  // Forces terminal mode on or off (default: isatty(stderr)).
  static void set_terminal(bool on);

 private:
  void maybe_render(bool force);

  std::string label_;
  std::string unit_;
  std::int64_t total_;
  std::atomic<std::int64_t> done_{0};
  static constexpr std::size_t kMaxCounters = 4;
  std::vector<std::string> counter_units_;
  std::array<std::atomic<std::int64_t>, kMaxCounters> counters_{};
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_render_;
  mutable std::mutex mutex_;
  bool finished_ = false;
};

// Formats seconds as "1h02m", "3m05s" or "12s".
std::string format_duration(double seconds);

}  // namespace mme
