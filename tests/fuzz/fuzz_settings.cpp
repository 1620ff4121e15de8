// libFuzzer target: the settings files the tools read back from an output directory they did not
// necessarily write: trajgen's config.json (checked by the trainer against the run and the flow
// set, and by trajgen when it resumes) and flowgen's flowgen.json (the flow set's identity). A
// damaged or hand-edited file must give a FileError naming it; any other exception (nlohmann's
// bare type_error, std::out_of_range...) is reported here as a finding, as is a sanitizer report.
#include <mme/error.h>
#include <mme/part_store.h>
#include <mme/shard_schema.h>
#include <trainer/target_set.h>

#include <nlohmann/json.hpp>

#include <unistd.h>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <typeinfo>

namespace {

namespace fs = std::filesystem;
namespace schema = mme::schema;

struct Dirs {
  fs::path root, good_flow, fuzzed_flow, target;
};

void write(const fs::path& file, const void* data, std::size_t size) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
}

const Dirs& dirs() {
  static const Dirs d = [] {
    const char* tmp = std::getenv("TMPDIR");
    Dirs d;
    d.root = fs::path(tmp ? tmp : "/tmp") / ("fuzz_settings." + std::to_string(::getpid()));
    d.good_flow = d.root / "flow";
    d.fuzzed_flow = d.root / "flow-fuzzed";
    d.target = d.root / "traj";
    for (const auto& dir : {d.good_flow, d.fuzzed_flow, d.target}) fs::create_directories(dir);
    const std::string flow = R"({"method": "dis", "preset": "medium", "frames": "jpeg", "max_short_side": 256})";
    write(d.good_flow / schema::kFlowSettingsFile, flow.data(), flow.size());
    std::atexit([] { fs::remove_all(dirs().root); });
    return d;
  }();
  return d;
}

// Runs one reader; only a FileError (OutputError included) is an acceptable way to refuse.
void expect_clear_error(const char* what, const std::function<void()>& read) {
  try {
    read();
  } catch (const mme::FileError&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_settings: %s threw a %s without the file's name: %s\n", what, typeid(e).name(),
                 e.what());
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto& d = dirs();
  const std::map<std::string, std::string> videos = {{"v0", "shard-00000/part-00000.h5"}};
  // The input as trajgen's config.json, read against a sound flow set...
  write(d.target / schema::kTargetSettingsFile, data, size);
  expect_clear_error("check_target_set",
                     [&] { trainer::check_target_set(d.target, d.good_flow, videos, trainer::TrajectoryConfig{}); });
  expect_clear_error("claim_output_dir", [&] {
    const nlohmann::json mine = {
        {schema::target_settings::traj_len.name, 4},
        {schema::target_settings::cell.name, 8},
        {schema::target_settings::flow.name, mme::output_identity(d.good_flow, schema::kFlowSettingsFile, videos)}};
    mme::claim_output_dir(d.target, schema::kTargetSettingsFile, mine);
  });
  expect_clear_error("merge_index", [&] { mme::merge_index(d.target, schema::kTargetSettingsFile); });
  // ...and as flowgen.json, the flow set a sound config.json names.
  write(d.fuzzed_flow / schema::kFlowSettingsFile, data, size);
  const std::string config = nlohmann::json{{schema::target_settings::traj_len.name, 4},
                                            {schema::target_settings::cell.name, 8},
                                            {schema::target_settings::flow.name,
                                             mme::output_identity(d.good_flow, schema::kFlowSettingsFile, videos)}}
                                 .dump();
  write(d.target / schema::kTargetSettingsFile, config.data(), config.size());
  expect_clear_error("check_target_set (flow set)",
                     [&] { trainer::check_target_set(d.target, d.fuzzed_flow, videos, trainer::TrajectoryConfig{}); });
  return 0;
}
