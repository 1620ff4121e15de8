#include <trainer/metrics_log.h>

#include <mme/error.h>

#include <cerrno>
#include <fstream>
#include <string>
#include <vector>

namespace trainer {

MetricsLog::MetricsLog(const std::filesystem::path& path, long resume_step) : path_(path) {
  std::vector<std::string> kept;
  {
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) {
      try {
        if (nlohmann::json::parse(line).value("step", 0L) <= resume_step) kept.push_back(line);
      } catch (const nlohmann::json::exception&) {  // a line cut by a kill
      }
    }
  }
  file_ = std::fopen(path.c_str(), "w");
  if (!file_) throw mme::FileError(path, "cannot open the metrics log for writing");
  for (const auto& line : kept) std::fprintf(file_, "%s\n", line.c_str());
  std::fflush(file_);
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
