#pragma once
// One exception type for every failure that concerns a file (a video, a list, a shard), so that
// batch tools can record "file: reason" and go on with the next item.
#include <cstring>
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

 protected:
  FileError(std::filesystem::path file, const std::string& reason, const std::string& message)
      : std::runtime_error(message), file_(std::move(file)), reason_(reason) {}

 private:
  std::filesystem::path file_;
  std::string reason_;
};

// Writing the run's own output failed: a full disk, a quota, an I/O error, a read-only or vanished
// output directory. Unlike a bad input it stops the whole run (the next video would fail the same
// way); what was published before stays intact and a re-run resumes. what() is one line:
// "No space left on device writing OUT/shard-00000-of-00001/part-00002.h5".
class OutputError : public FileError {
 public:
  // `file`: the file as the user knows it (the final name, not the temporary one); `operation`:
  // "writing", "creating", "publishing"; `error`: the errno value.
  OutputError(std::filesystem::path file, const std::string& operation, int error);
  int error() const { return error_; }
  const std::string& operation() const { return operation_; }

 private:
  int error_;
  std::string operation_;
};

inline OutputError::OutputError(std::filesystem::path file, const std::string& operation, int error)
    : FileError(file, std::strerror(error), std::string(std::strerror(error)) + " " + operation + " " + file.string()),
      error_(error),
      operation_(operation) {}

}  // namespace mme
