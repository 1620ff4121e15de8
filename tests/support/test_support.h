#pragma once
// Shared test helpers: where the real sample videos are, temporary directories, and synthetic
// videos with known motion made with the ffmpeg CLI.
#include <mme/isa.h>

#include <catch2/catch_test_macros.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace mme::test {

// The cache of real sample videos (scripts/fetch-samples.sh); fails the test if it is missing.
std::filesystem::path samples_dir();
std::filesystem::path sample(const std::string& relative);  // samples_dir() / relative, must exist
std::filesystem::path source_dir();

// A fresh directory removed at scope exit.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// Runs a command, capturing its exit code and its output (stdout and stderr together).
struct CommandResult {
  int rc = -1;
  std::string output;
};
CommandResult run_capture(const std::string& command);
// Runs a command and fails the test unless it exits 0.
void run_checked(const std::string& command);
// Copies a video, adding rotation metadata (a display matrix) of `degrees` as `-metadata rotate`
// sets it: the picture is to be turned counter-clockwise by `degrees` for display.
void set_rotation(const std::filesystem::path& in, const std::filesystem::path& out, int degrees);
// The Python the tests read files with: h5py, numpy, matplotlib and (for the trainer) torch.
std::string python();
// Every video of a flowgen/trajgen output directory: id -> dataset name -> stored values as bytes.
// Fails the test if a video stands in two parts.
using OutputContent = std::map<std::string, std::map<std::string, std::vector<std::uint8_t>>>;
OutputContent read_output(const std::filesystem::path& out_dir);

// Reads a whole file as bytes.
std::string read_file(const std::filesystem::path& path);
void write_file(const std::filesystem::path& path, const std::string& bytes);

// Runs `f` on the baseline and then the x86-64-v3 build of the hot loops (mme/isa.h) and returns
// both results, for the tests that they are bit-identical; SKIPs where the CPU has only one.
template <typename F>
auto on_both_kernel_builds(F&& f) {
  if (isa::supported() != isa::Level::x86_64_v3) SKIP("this CPU (or build) has no x86-64-v3 build of the kernels");
  struct Restore {
    isa::Level before = isa::active();
    ~Restore() { isa::use(before); }
  } restore;
  isa::use(isa::Level::baseline);
  auto baseline = f();
  isa::use(isa::Level::x86_64_v3);
  auto v3 = f();
  return std::pair{std::move(baseline), std::move(v3)};
}

}  // namespace mme::test
