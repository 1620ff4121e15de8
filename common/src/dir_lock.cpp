#include <mme/dir_lock.h>
#include <mme/error.h>
#include <mme/provenance.h>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <string>

namespace mme {

namespace {

enum class Outcome { taken, held, unsupported };

// A write lock on the whole file, owned by the open file description (so a second lock taken in
// the same process conflicts too, and closing another descriptor of the file does not drop it).
Outcome lock_file(int fd) {
  struct flock lock {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
#ifdef F_OFD_SETLK
  int rc = ::fcntl(fd, F_OFD_SETLK, &lock);
  if (rc != 0 && errno == EINVAL) rc = ::fcntl(fd, F_SETLK, &lock);  // a kernel before 3.15
#else
  int rc = ::fcntl(fd, F_SETLK, &lock);
#endif
  if (rc == 0) return Outcome::taken;
  if (errno == EAGAIN || errno == EACCES) return Outcome::held;
  return Outcome::unsupported;  // ENOLCK, EOPNOTSUPP, ENOSYS: no locks on this file system
}

std::string read_all(int fd) {
  std::string text;
  char buffer[512];
  for (off_t at = 0;;) {
    const ssize_t n = ::pread(fd, buffer, sizeof buffer, at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || text.size() > 4096) break;
    text.append(buffer, static_cast<std::size_t>(n));
    at += n;
  }
  return text;
}

// "flowgen, pid 4242 on node17, since 2026-12-08 01:02:03 UTC" from the holder's file (or a
// plain description when the file was emptied or damaged).
std::string describe(const nlohmann::json& holder) {
  if (!holder.is_object()) return "another run (its lock file names none)";
  return fmt::format("{}, pid {} on {}, since {}", holder.value("tool", "?"), holder.value("pid", 0L),
                     holder.value("host", "?"), holder.value("since", "?"));
}

nlohmann::json parse_holder(const std::string& text) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception&) {
    return nullptr;
  }
}

// Without file system locks: is the run named in the file still there?
bool holder_alive(const nlohmann::json& holder) {
  if (!holder.is_object() || !holder.contains("pid")) return false;
  if (holder.value("host", "") != host_name()) return true;  // cannot be checked from here
  const long pid = holder.value("pid", 0L);
  return pid > 0 && !(::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH);
}

}  // namespace

DirectoryLock::DirectoryLock(const std::filesystem::path& dir, const std::string& tool) : path_(dir / kFileName) {
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd_ < 0) throw OutputError(path_, "creating", errno);
  const auto outcome = lock_file(fd_);
  const auto holder = parse_holder(read_all(fd_));
  if (outcome == Outcome::held || (outcome == Outcome::unsupported && holder_alive(holder))) {
    ::close(fd_);
    fd_ = -1;
    std::string message = "in use by " + describe(holder) + ": one live run per output directory at a time";
    if (outcome == Outcome::unsupported && holder.value("host", "") != host_name())
      message += fmt::format(
          " (this file system has no locks, so a run on another host cannot be checked: if it is gone, remove {})",
          path_.string());
    throw FileError(dir, message);
  }
  const nlohmann::json mine = {{"tool", tool},
                               {"host", host_name()},
                               {"pid", static_cast<long>(::getpid())},
                               {"since", fmt::format("{:%F %T} UTC", fmt::gmtime(std::time(nullptr)))}};
  const auto text = mine.dump() + "\n";
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    throw OutputError(path_, "writing", err);
  }
}

DirectoryLock::~DirectoryLock() {
  if (fd_ < 0) return;
  // Emptied, not removed: a run that opened the file meanwhile would lock a name no one sees.
  if (::ftruncate(fd_, 0) != 0) {
    // Nothing to do: the lock goes with the descriptor; the stale name is checked by the next run.
  }
  ::close(fd_);
}

}  // namespace mme
