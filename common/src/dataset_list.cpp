#include <mme/dataset_list.h>
#include <mme/error.h>

#include <fmt/format.h>

#include <charconv>
#include <fstream>
#include <stdexcept>
#include <unordered_map>

namespace mme {
namespace {

std::string_view trim(std::string_view s) {
  const auto* ws = " \t\r\n\v\f";
  const auto b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

std::optional<std::int64_t> parse_int(std::string_view s) {
  std::int64_t v = 0;
  const auto* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, v);
  if (ec != std::errc() || p != end) return std::nullopt;
  return v;
}

}  // namespace

std::optional<ListEntry> parse_list_line(std::string_view line, const std::filesystem::path& root) {
  // A '#' starts a comment only at the start of a field, so "clip#3.mp4" stays a path.
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '#' && (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t' || line[i - 1] == ',')) {
      line = line.substr(0, i);
      break;
    }
  }
  line = trim(line);
  if (line.empty()) return std::nullopt;

  ListEntry entry;
  std::string_view path_part = line;
  if (const auto comma = line.find(','); comma != std::string_view::npos) {
    // "path,label" (label optional): a comma-separated list may hold paths with spaces.
    path_part = trim(line.substr(0, comma));
    const auto rest = trim(line.substr(comma + 1));
    if (rest.find(',') != std::string_view::npos)
      throw std::invalid_argument(fmt::format("expected 'path,label', found more than two fields in '{}'", line));
    if (!rest.empty()) {
      entry.label = parse_int(rest);
      if (!entry.label) throw std::invalid_argument(fmt::format("label '{}' is not an integer", rest));
    }
  } else if (const auto ws = line.find_last_of(" \t"); ws != std::string_view::npos) {
    // "path label": the last field is the label when it is an integer (paths may hold spaces).
    const auto last = line.substr(ws + 1);
    if (auto label = parse_int(last)) {
      entry.label = label;
      path_part = trim(line.substr(0, ws));
    }
  }
  if (path_part.empty()) throw std::invalid_argument("empty path");
  entry.id = std::string(path_part);
  const std::filesystem::path p(entry.id);
  entry.path = p.is_absolute() ? p : root / p;
  return entry;
}

std::vector<ListEntry> read_dataset_list(const std::filesystem::path& list_file, const std::filesystem::path& root) {
  std::ifstream in(list_file);
  if (!in) throw FileError(list_file, "cannot open the dataset list");
  std::vector<ListEntry> entries;
  std::unordered_map<std::string, std::size_t> seen;
  std::string line;
  std::size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (number == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);  // UTF-8 byte order mark
    std::optional<ListEntry> entry;
    try {
      entry = parse_list_line(line, root);
    } catch (const std::invalid_argument& e) {
      throw FileError(list_file, fmt::format("line {}: {}", number, e.what()));
    }
    if (!entry) continue;
    entry->line = number;
    if (auto [it, inserted] = seen.emplace(entry->id, number); !inserted)
      throw FileError(list_file,
                      fmt::format("line {}: '{}' is already listed on line {}", number, entry->id, it->second));
    entries.push_back(std::move(*entry));
  }
  if (in.bad()) throw FileError(list_file, "read error");
  return entries;
}

std::uint64_t fnv1a64(std::string_view bytes) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

ShardSpec ShardSpec::parse(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos)
    throw std::invalid_argument(fmt::format("shard '{}' must look like I/N (e.g. 0/16)", text));
  const auto i = parse_int(trim(text.substr(0, slash)));
  const auto n = parse_int(trim(text.substr(slash + 1)));
  if (!i || !n) throw std::invalid_argument(fmt::format("shard '{}' must look like I/N (e.g. 0/16)", text));
  if (*n < 1 || *n > 1000000) throw std::invalid_argument(fmt::format("shard count {} must be in 1..1000000", *n));
  if (*i < 0 || *i >= *n)
    throw std::invalid_argument(
        fmt::format("shard index {} must be in 0..{} (0-based, as SLURM_ARRAY_TASK_ID)", *i, *n - 1));
  return ShardSpec{static_cast<int>(*i), static_cast<int>(*n)};
}

bool ShardSpec::contains(std::string_view id) const {
  return count <= 1 || fnv1a64(id) % static_cast<std::uint64_t>(count) == static_cast<std::uint64_t>(index);
}

std::string ShardSpec::to_string() const {
  return fmt::format("{}/{}", index, count);
}

std::string ShardSpec::stem() const {
  return fmt::format("shard-{:05}-of-{:05}", index, count);
}

std::vector<ListEntry> select_shard(const std::vector<ListEntry>& entries, const ShardSpec& shard) {
  std::vector<ListEntry> out;
  for (const auto& e : entries)
    if (shard.contains(e.id)) out.push_back(e);
  return out;
}

}  // namespace mme
