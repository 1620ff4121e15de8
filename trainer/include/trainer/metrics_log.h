#pragma once
// RUNDIR/metrics.jsonl: one JSON object per logged step (step, epoch, lr, loss, loss per target,
// clips/s, share of time waiting for data, ...). scripts/plot-metrics.py draws it.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>

namespace trainer {

class MetricsLog {
 public:
  // Opens for appending; lines of steps after `resume_step` (written by a run killed after its
  // last checkpoint) and a torn last line are dropped first (the rest published atomically), so
  // the file reads as one uninterrupted run. Only the holder of run.out's lock writes it.
  MetricsLog(const std::filesystem::path& path, long resume_step);
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;
  void write(const nlohmann::json& line);  // flushed at once

 private:
  std::filesystem::path path_;
  std::FILE* file_ = nullptr;
};

}  // namespace trainer
