#include <trainer/world.h>

#include <fmt/format.h>

#include <charconv>
#include <cstdlib>
#include <stdexcept>

namespace trainer {

namespace {

long parse_number(const char* name, const char* text) {
  long value = 0;
  const char* end = text + std::char_traits<char>::length(text);
  const auto [ptr, ec] = std::from_chars(text, end, value);
  if (ec != std::errc() || ptr != end || ptr == text)
    throw std::invalid_argument(fmt::format("the environment variable {}='{}' is not a number", name, text));
  return value;
}

}  // namespace

std::string first_slurm_host(const std::string& nodelist) {
  // The first entry at bracket depth 0 ("gpu[003-010,12]" in "gpu[003-010,12],cpu1").
  int depth = 0;
  std::size_t end = 0;
  for (; end < nodelist.size(); ++end) {
    if (nodelist[end] == '[') ++depth;
    if (nodelist[end] == ']') --depth;
    if (nodelist[end] == ',' && depth == 0) break;
  }
  const auto entry = nodelist.substr(0, end);
  const auto open = entry.find('[');
  if (open == std::string::npos) return entry;
  // The first number of the range list, zero padding kept ("003" of "003-010,12").
  auto first = entry.substr(open + 1);
  first = first.substr(0, first.find_first_of(",-]"));
  const auto close = entry.find(']', open);
  const auto rest = close == std::string::npos ? std::string() : entry.substr(close + 1);
  return entry.substr(0, open) + first + (rest.empty() ? rest : first_slurm_host(rest));  // "a[1-2]-b[3-4]"
}

int slurm_master_port(long job_id) {
  return 20000 + static_cast<int>(job_id % 20000);
}

WorldInfo world_from_environment(const Getenv& getenv) {
  WorldInfo w;
  auto number = [&](const char* name) -> long {
    const char* v = getenv(name);
    if (!v) throw std::invalid_argument(fmt::format("the environment variable {} is not set", name));
    return parse_number(name, v);
  };
  if (getenv("RANK") || getenv("WORLD_SIZE")) {
    w.launcher = "torchrun";
    w.rank = static_cast<int>(number("RANK"));
    w.size = static_cast<int>(number("WORLD_SIZE"));
    w.local_rank = getenv("LOCAL_RANK") ? static_cast<int>(number("LOCAL_RANK")) : 0;
  } else if (getenv("SLURM_PROCID") && getenv("SLURM_NTASKS")) {
    w.launcher = "slurm";
    w.rank = static_cast<int>(number("SLURM_PROCID"));
    w.size = static_cast<int>(number("SLURM_NTASKS"));
    w.local_rank = getenv("SLURM_LOCALID") ? static_cast<int>(number("SLURM_LOCALID")) : 0;
    const char* nodes = getenv("SLURM_JOB_NODELIST") ? getenv("SLURM_JOB_NODELIST") : getenv("SLURM_NODELIST");
    if (nodes) w.master_addr = first_slurm_host(nodes);
    if (getenv("SLURM_JOB_ID")) w.master_port = slurm_master_port(number("SLURM_JOB_ID"));
  } else {
    return w;  // one process
  }
  if (w.size < 1) throw std::invalid_argument(fmt::format("the world size is {} ({})", w.size, w.launcher));
  if (w.rank < 0 || w.rank >= w.size)
    throw std::invalid_argument(
        fmt::format("rank {} is not in 0..{} (world size {}, from {})", w.rank, w.size - 1, w.size, w.launcher));
  if (w.local_rank < 0) throw std::invalid_argument(fmt::format("the local rank is {}", w.local_rank));
  if (const char* addr = getenv("MASTER_ADDR")) {
    w.master_addr = addr;
  } else if (w.launcher == "torchrun" && w.size > 1) {
    throw std::invalid_argument("RANK and WORLD_SIZE are set but MASTER_ADDR is not (the host of rank 0)");
  }
  if (getenv("MASTER_PORT")) {
    const long port = number("MASTER_PORT");
    if (port < 1 || port > 65535) throw std::invalid_argument(fmt::format("MASTER_PORT={} is not a port", port));
    w.master_port = static_cast<int>(port);
  } else if (w.launcher == "torchrun" && w.size > 1) {
    throw std::invalid_argument("RANK and WORLD_SIZE are set but MASTER_PORT is not");
  }
  return w;
}

WorldInfo world_from_environment() {
  return world_from_environment([](const char* name) { return std::getenv(name); });
}

}  // namespace trainer
