// mme-verify: checks a flow or target set on disk (mme/verify.h) and prints what is damaged.
#include <mme/cli.h>
#include <mme/log.h>
#include <mme/verify.h>

#include <cstdio>
#include <thread>

int main(int argc, char** argv) {
  CLI::App app{
      "Checks a flowgen or trajgen output directory as it lies on disk: every part opens, every chunk of every\n"
      "dataset decodes (checksums included), and the manifests agree with the parts. Prints one line per problem.",
      "mme-verify"};
  std::filesystem::path dir;
  int threads = 0;
  app.add_option("dir", dir, "The flowgen or trajgen output directory")->required()->check(CLI::ExistingDirectory);
  app.add_option("--threads", threads, "Parts checked at once (0: all cores)")->check(CLI::NonNegativeNumber);
  mme::cli::setup(app, {{"mme-verify /data/k400-flow", "check a flow set copied from another cluster"},
                        {"mme-verify --threads 8 /data/k400-traj", "a target set, 8 parts at a time"}});
  if (int rc = mme::cli::parse(app, argc, argv); rc >= 0) return rc;
  try {
    const int n = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    const auto report = mme::verify_output(dir, n);
    for (const auto& line : report.damaged) std::printf("damaged: %s\n", line.c_str());
    std::printf(
        "%zu parts, %zu videos, %zu datasets, %zu chunks (%.1f MB) checked: %s\n", report.parts, report.videos,
        report.datasets, report.chunks, report.bytes / 1e6,
        report.damaged.empty() ? "all intact" : (std::to_string(report.damaged.size()) + " problem(s)").c_str());
    return report.damaged.empty() ? mme::cli::kOk : mme::cli::kSomeFailed;
  } catch (const std::exception& e) {
    mme::log::error("{}", e.what());
    return mme::cli::kFatal;
  }
}
