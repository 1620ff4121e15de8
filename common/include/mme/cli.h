#pragma once
// The command-line convention shared by every tool (ripgrep/git style):
// - `--help` shows the usage with examples and the exit codes below;
// - `--version`, `-q/--quiet`, `-v/--verbose` everywhere;
// - errors name what was wrong and what to do; nothing but results on stdout.
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace mme::cli {

// Exit codes that scripts (and Slurm arrays) can trust.
enum ExitCode : int {
  kOk = 0,             // everything asked for was done
  kFatal = 1,          // nothing (more) could be done: bad settings, unreadable list, refused output
  kUsage = 2,          // the command line itself is wrong
  kSomeFailed = 3,     // finished, but some items failed; the manifest/report names them and why
  kInterrupted = 130,  // stopped by SIGINT/SIGTERM; finished items are kept, a re-run resumes
};

// The exit-code table printed at the end of --help, and in docs/usage.md.
std::string exit_code_help();

struct Example {
  std::string command;
  std::string what;
};

// Creates an app with the shared flags and a footer holding the examples and the exit codes.
void setup(CLI::App& app, const std::vector<Example>& examples);

// Runs app.parse and applies the shared flags. Returns -1 when the program should go on,
// otherwise the exit code to return (after --help/--version, or a usage error that was printed).
int parse(CLI::App& app, int argc, char** argv);

// A validator for `--shard I/N`.
const CLI::Validator& shard_validator();

}  // namespace mme::cli
