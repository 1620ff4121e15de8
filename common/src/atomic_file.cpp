#include <mme/atomic_file.h>
#include <mme/error.h>

#include <fmt/format.h>
#include <unistd.h>

#include <fstream>

namespace mme {

void write_atomically(const std::filesystem::path& path, std::string_view bytes) {
  const std::filesystem::path tmp = path.string() + fmt::format(".tmp-{}", ::getpid());
  {
    std::ofstream out(tmp, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) throw FileError(tmp, "cannot write");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw FileError(path, "cannot publish: " + ec.message());
}

}  // namespace mme
