#include <mme/error.h>
#include <mme/json_file.h>

#include <fmt/format.h>

#include <cmath>
#include <fstream>
#include <limits>

namespace mme {

nlohmann::json read_json_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw FileError(file, "cannot open");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw FileError(file, fmt::format("not valid JSON: {}", e.what()));
  }
}

int json_int(const nlohmann::json& object, const char* key, const std::filesystem::path& file) {
  if (!object.is_object()) throw FileError(file, fmt::format("is a JSON {}, not an object", object.type_name()));
  const auto it = object.find(key);
  if (it == object.end()) throw FileError(file, fmt::format("has no '{}'", key));
  const double lo = std::numeric_limits<int>::min(), hi = std::numeric_limits<int>::max();
  if (it->is_number_integer() || it->is_number_unsigned() || it->is_number_float()) {
    const double v = it->get<double>();
    if (v >= lo && v <= hi && v == std::floor(v)) return static_cast<int>(v);
  }
  throw FileError(file, fmt::format("'{}' must be a whole number, not {}", key, it->dump()));
}

}  // namespace mme
