#include <trainer/metrics_log.h>

#include <mme/atomic_file.h>
#include <mme/error.h>

#include <cerrno>
#include <fstream>
#include <string>

namespace trainer {

MetricsLog::MetricsLog(const std::filesystem::path& path, long resume_step) : path_(path) {
  std::string kept;
  bool dropped = false;
  {
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) {
      try {
        if (nlohmann::json::parse(line).value("step", 0L) <= resume_step) {
          kept += line + "\n";
          continue;
        }
      } catch (const nlohmann::json::exception&) {  // a line cut by a kill
      }
      dropped = true;
    }
  }
  // The lines to keep are published whole first (a kill now leaves the old file or the new one,
  // never a truncated one); then this run appends.
  if (dropped) mme::write_atomically(path, kept);
  file_ = std::fopen(path.c_str(), "a");
  if (!file_) throw mme::OutputError(path, "creating", errno);
}

MetricsLog::~MetricsLog() {
  if (file_) std::fclose(file_);
}

void MetricsLog::write(const nlohmann::json& line) {
  // A line that cannot be written (a full disk) stops the run like a checkpoint that cannot.
  if (std::fprintf(file_, "%s\n", line.dump().c_str()) < 0 || std::fflush(file_) != 0)
    throw mme::OutputError(path_, "writing", errno);
}

}  // namespace trainer
