#include <mme/cli.h>
#include <mme/dataset_list.h>
#include <mme/isa.h>
#include <mme/log.h>
#include <mme/version.h>

#include <fmt/format.h>

#include <iostream>

namespace mme::cli {

std::string exit_code_help() {
  return "Exit codes:\n"
         "  0    everything asked for was done\n"
         "  1    fatal error: nothing (more) could be done (bad settings, unreadable list, refused output)\n"
         "  2    usage error: the command line is wrong\n"
         "  3    finished, but some items failed (the manifest names each one and why)\n"
         "  130  interrupted (SIGINT/SIGTERM): finished items are kept, a re-run resumes\n";
}

void setup(CLI::App& app, const std::vector<Example>& examples) {
  // The kernels' build (mme/isa.h) too: results are the same on both, speeds are not.
  app.set_version_flag("--version", fmt::format("{} {} (git {}), kernels built for {}", app.get_name(), version(),
                                                git_commit(), isa::name(isa::active())));
  app.add_flag("-q,--quiet")->description(std::string("Print only warnings and errors (no progress line)"));
  app.add_flag("-v,--verbose")->description(std::string("Also print debug messages (FFmpeg's own log among them)"));
  std::string footer;
  if (!examples.empty()) {
    footer += "Examples:\n";
    for (const auto& e : examples) footer += fmt::format("  # {}\n  {}\n", e.what, e.command);
    footer += "\n";
  }
  footer += exit_code_help();
  app.footer(footer);
}

int parse(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    std::cout << app.help();
    return kOk;
  } catch (const CLI::CallForAllHelp& e) {
    std::cout << app.help("", CLI::AppFormatMode::All);
    return kOk;
  } catch (const CLI::CallForVersion& e) {
    std::cout << e.what() << "\n";
    return kOk;
  } catch (const CLI::ParseError& e) {
    std::cerr << app.get_name() << ": " << e.what() << "\n"
              << "Run '" << app.get_name() << " --help' for the usage and examples.\n";
    return kUsage;
  }
  // Both flags live on the top-level app; subcommands inherit them through CLI11's fallthrough.
  if (app.get_option("--verbose")->count() > 0) log::set_level(log::Level::debug);
  if (app.get_option("--quiet")->count() > 0) log::set_level(log::Level::warn);
  return -1;
}

const CLI::Validator& shard_validator() {
  static const CLI::Validator v(
      [](std::string& text) -> std::string {
        try {
          ShardSpec::parse(text);
        } catch (const std::exception& e) {
          return e.what();
        }
        return {};
      },
      "I/N", "shard");
  return v;
}

}  // namespace mme::cli
