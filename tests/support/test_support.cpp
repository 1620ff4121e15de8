#include "test_support.h"

#include <mme/shard_store.h>

#include <unistd.h>
#include <catch2/catch_test_macros.hpp>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

namespace mme::test {

std::filesystem::path samples_dir() {
  const char* env = std::getenv("MME_SAMPLES_DIR");
  std::filesystem::path dir = env && *env ? env : MME_SAMPLES_DIR;
  if (!std::filesystem::exists(dir / "list.txt"))
    FAIL("sample videos missing in " << dir << ": run scripts/fetch-samples.sh " << dir);
  return dir;
}

std::filesystem::path sample(const std::string& relative) {
  auto p = samples_dir() / relative;
  if (!std::filesystem::exists(p)) FAIL("sample video missing: " << p);
  return p;
}

std::filesystem::path source_dir() {
  return MME_SOURCE_DIR;
}

TempDir::TempDir() {
  std::random_device rd;
  const auto base = std::filesystem::temp_directory_path();
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto candidate = base / ("mme-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    if (std::filesystem::create_directory(candidate)) {
      path_ = candidate;
      return;
    }
  }
  FAIL("cannot create a temporary directory");
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

CommandResult run_capture(const std::string& command) {
  static std::atomic<int> counter{0};
  const auto log = std::filesystem::temp_directory_path() /
                   ("mme-test-out-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".log");
  const int status = std::system((command + " >'" + log.string() + "' 2>&1").c_str());
  CommandResult r{WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_file(log)};
  std::filesystem::remove(log);
  return r;
}

void run_checked(const std::string& command) {
  const auto log = std::filesystem::temp_directory_path() / ("mme-test-cmd-" + std::to_string(::getpid()) + ".log");
  const int status = std::system((command + " >'" + log.string() + "' 2>&1").c_str());
  const int rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::string output = read_file(log);
  std::filesystem::remove(log);
  if (output.size() > 4000) output = "..." + output.substr(output.size() - 4000);
  INFO("command: " << command << "\noutput:\n" << output);
  REQUIRE(rc == 0);
}

void set_rotation(const std::filesystem::path& in, const std::filesystem::path& out, int degrees) {
  // FFmpeg 5.1 writes the display matrix from the `rotate` tag only when stream-copying.
  run_checked("ffmpeg -v error -y -i '" + in.string() + "' -c copy -metadata:s:v:0 rotate=" + std::to_string(degrees) +
              " '" + out.string() + "'");
}

std::string python() {
  return MME_PYTHON;
}

OutputContent read_output(const std::filesystem::path& out_dir) {
  OutputContent content;
  for (const auto& shard : std::filesystem::directory_iterator(out_dir)) {
    if (!shard.is_directory()) continue;
    for (const auto& part : std::filesystem::directory_iterator(shard.path())) {
      if (part.path().extension() != ".h5") continue;
      mme::ShardReader reader(part.path());
      for (const auto& id : reader.video_ids()) {
        REQUIRE(content.count(id) == 0);  // a video is in exactly one part
        auto video = reader.video(id);
        for (const auto& name : video.dataset_names()) {
          auto ds = video.dataset(name);
          content[id][name] = ds.read_bytes(ds.info().dtype);
        }
      }
    }
  }
  return content;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

}  // namespace mme::test
