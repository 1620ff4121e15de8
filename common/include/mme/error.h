#pragma once
// One exception type for every failure that concerns a file (a video, a list, a shard), so that
// batch tools can record "file: reason" and go on with the next item.
#include <filesystem>
#include <stdexcept>
#include <string>

namespace mme {

class FileError : public std::runtime_error {
 public:
  FileError(std::filesystem::path file, const std::string& reason)
      : std::runtime_error(file.string() + ": " + reason), file_(std::move(file)), reason_(reason) {}
  const std::filesystem::path& file() const { return file_; }
  const std::string& reason() const { return reason_; }

 private:
  std::filesystem::path file_;
  std::string reason_;
};

}  // namespace mme
