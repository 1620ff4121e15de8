#include <mme/atomic_file.h>
#include <mme/error.h>
#include <mme/provenance.h>

#include <signal.h>

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace mme {

std::filesystem::path temporary_name(const std::filesystem::path& path) {
  static std::atomic<unsigned> counter{0};
  return path.string() + fmt::format(".tmp-{}-{}.{}", host_name(), ::getpid(), counter++);
}

std::filesystem::path published_name(const std::filesystem::path& file) {
  const auto name = file.filename().string();
  const auto at = name.find(".tmp-");
  return at == std::string::npos ? file : file.parent_path() / name.substr(0, at);
}

void remove_stale_temporaries(const std::filesystem::path& path) {
  std::error_code ec;
  const bool whole_dir = std::filesystem::is_directory(path, ec);
  const auto dir = whole_dir ? path : path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
  const std::string mine = ".tmp-" + host_name() + "-";
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    const auto at = name.rfind(mine);
    if (at == std::string::npos || at == 0) continue;
    if (!whole_dir && name.compare(0, at, path.filename().string()) != 0) continue;
    char* end = nullptr;
    const long pid = std::strtol(name.c_str() + at + mine.size(), &end, 10);
    if (pid <= 0 || *end != '.') continue;
    if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) std::filesystem::remove(entry.path(), ec);
  }
}

void fsync_path(const std::filesystem::path& path, bool directory) {
  const int fd = ::open(path.c_str(), (directory ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw OutputError(path, "publishing", errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) throw OutputError(path, "publishing", err);
}

void publish_file(const std::filesystem::path& temp, const std::filesystem::path& path) {
  try {
    fsync_path(temp, false);
  } catch (const OutputError& e) {
    throw OutputError(path, "publishing", e.error());  // the name the user knows
  }
  std::error_code ec;
  std::filesystem::rename(temp, path, ec);
  if (ec) throw OutputError(path, "publishing", ec.value());
  const auto dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  fsync_path(dir, true);
}

AtomicWriter::AtomicWriter(std::filesystem::path path) : path_(std::move(path)) {
  remove_stale_temporaries(path_);
  temp_ = temporary_name(path_);
  fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw OutputError(path_, "creating", errno);
}

AtomicWriter::~AtomicWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) {
    std::error_code ec;
    std::filesystem::remove(temp_, ec);
  }
}

bool AtomicWriter::write(const void* data, std::size_t size) {
  const auto* bytes = static_cast<const char*>(data);
  for (std::size_t done = 0; done < size && error_ == 0;) {
    const ssize_t n = ::write(fd_, bytes + done, size - done);
    if (n > 0)
      done += static_cast<std::size_t>(n);
    else if (n == 0 || errno != EINTR)
      error_ = n < 0 ? errno : EIO;
  }
  return error_ == 0;
}

void AtomicWriter::commit() {
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0 && error_ == 0) error_ = errno;
  if (error_ != 0) throw OutputError(path_, "writing", error_);
  publish_file(temp_, path_);
  committed_ = true;
}

void write_atomically(const std::filesystem::path& path, std::string_view bytes) {
  AtomicWriter out(path);
  out.write(bytes.data(), bytes.size());
  out.commit();
}

}  // namespace mme
