#include <mme/log.h>
#include <mme/progress.h>
#include <mme/terminal.h>

#include <fmt/format.h>

#include <atomic>
#include <cmath>

namespace mme {
namespace {
std::atomic<double> g_plain_interval{30.0};
std::atomic<int> g_terminal{-1};  // -1: ask isatty

bool on_terminal() {
  const int forced = g_terminal.load();
  return forced < 0 ? terminal::stderr_is_tty() : forced == 1;
}

std::string format_rate(double rate) {
  if (rate >= 100) return fmt::format("{:.0f}", rate);
  if (rate >= 10) return fmt::format("{:.1f}", rate);
  return fmt::format("{:.2f}", rate);
}
}  // namespace

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<long long>(std::llround(seconds));
  if (s >= 3600) return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
  if (s >= 60) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

void Progress::set_plain_interval(double seconds) {
  g_plain_interval.store(seconds);
}
void Progress::set_terminal(bool on) {
  g_terminal.store(on ? 1 : 0);
}

Progress::Progress(std::string label, std::int64_t total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total) {
  start_ = std::chrono::steady_clock::now();
  last_render_ = start_;
  for (auto& c : counters_) c.store(0);
  maybe_render(true);
}

Progress::~Progress() {
  finish();
}

std::size_t Progress::add_counter(std::string unit) {
  std::lock_guard lock(mutex_);
  if (counter_units_.size() >= kMaxCounters) throw std::logic_error("Progress: too many counters");
  counter_units_.push_back(std::move(unit));
  return counter_units_.size() - 1;
}

void Progress::advance(std::int64_t n) {
  done_.fetch_add(n);
  maybe_render(false);
}

void Progress::advance_counter(std::size_t counter, std::int64_t n) {
  counters_.at(counter).fetch_add(n);
  maybe_render(false);
}

std::string Progress::line() const {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const std::int64_t done = done_.load();
  std::string out = fmt::format("{} {}/{} {}", label_, done, total_, unit_);
  const double rate = elapsed > 0 ? done / elapsed : 0;
  out += fmt::format(", {} {}/s", format_rate(rate), unit_);
  for (std::size_t i = 0; i < counter_units_.size(); ++i) {
    const double r = elapsed > 0 ? counters_[i].load() / elapsed : 0;
    out += fmt::format(", {} {}/s", format_rate(r), counter_units_[i]);
  }
  if (done >= total_) {
    out += fmt::format(", took {}", format_duration(elapsed));
  } else if (done > 0) {
    out += fmt::format(", ETA {}", format_duration((total_ - done) / rate));
  }
  return out;
}

void Progress::maybe_render(bool force) {
  const auto now = std::chrono::steady_clock::now();
  std::unique_lock lock(mutex_, std::try_to_lock);
  if (!lock.owns_lock() || finished_ || log::level() > log::Level::info)
    return;  // someone else is drawing: skip, never block workers
  const double since = std::chrono::duration<double>(now - last_render_).count();
  if (on_terminal()) {
    if (force || since >= 0.1) {
      terminal::set_status(line());
      last_render_ = now;
    }
  } else if (since >= g_plain_interval.load()) {
    terminal::write_line(line());
    last_render_ = now;
  }
}

void Progress::finish() {
  std::lock_guard lock(mutex_);
  if (finished_) return;
  finished_ = true;
  if (log::level() > log::Level::info) return;
  if (on_terminal()) terminal::clear_status();
  terminal::write_line(line());
}

void Progress::abandon() {
  std::lock_guard lock(mutex_);
  if (finished_) return;
  finished_ = true;
  if (log::level() <= log::Level::info && on_terminal()) terminal::clear_status();
}

}  // namespace mme
