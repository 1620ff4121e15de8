#include <mme/error.h>
#include <mme/input_file.h>

#include <fmt/format.h>

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace mme {

void require_regular_file(const std::filesystem::path& path, std::string_view what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw FileError(path, errno == ENOENT ? std::string("no such file") : std::string(std::strerror(errno)));
  const auto is = [&](std::string_view kind) { return FileError(path, fmt::format("is {}, not {}", kind, what)); };
  if (S_ISDIR(st.st_mode)) throw is("a directory");
  if (S_ISFIFO(st.st_mode)) throw is("a FIFO (named pipe)");
  if (S_ISSOCK(st.st_mode)) throw is("a socket");
  if (S_ISCHR(st.st_mode)) throw is("a character device");
  if (S_ISBLK(st.st_mode)) throw is("a block device");
  if (!S_ISREG(st.st_mode)) throw is("not a regular file");
  if (st.st_size == 0) throw FileError(path, "empty file (0 bytes)");
}

}  // namespace mme
