#include <mme/atomic_file.h>
#include <mme/error.h>

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace mme {

void fsync_path(const std::filesystem::path& path, bool directory) {
  const int fd = ::open(path.c_str(), (directory ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw FileError(path, std::string("cannot open for fsync: ") + std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) throw FileError(path, std::string("fsync failed: ") + std::strerror(err));
}

void publish_file(const std::filesystem::path& temp, const std::filesystem::path& path) {
  fsync_path(temp, false);
  std::error_code ec;
  std::filesystem::rename(temp, path, ec);
  if (ec) throw FileError(path, "cannot publish (rename failed): " + ec.message());
  const auto dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  fsync_path(dir, true);
}

void write_atomically(const std::filesystem::path& path, std::string_view bytes) {
  const std::filesystem::path tmp = path.string() + fmt::format(".tmp-{}", ::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw FileError(tmp, std::string("cannot create: ") + std::strerror(errno));
  // Any failure from here on leaves no temporary behind.
  const auto discard = [&] {
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
  };
  int err = 0;
  for (std::size_t done = 0; done < bytes.size() && err == 0;) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n > 0)
      done += static_cast<std::size_t>(n);
    else if (n == 0 || errno != EINTR)
      err = n < 0 ? errno : EIO;
  }
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err != 0) {
    discard();
    throw FileError(path, std::string("cannot write: ") + std::strerror(err));
  }
  try {
    publish_file(tmp, path);
  } catch (...) {
    discard();
    throw;
  }
}

}  // namespace mme
