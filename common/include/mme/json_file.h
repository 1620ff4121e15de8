#pragma once
// The JSON files the tools leave for each other (flowgen.json, trajgen's config.json, index.json,
// a run's config.json): they may come from another version, another user or a damaged copy, so
// every failure to read one, or a value of the wrong type in it, is a FileError naming the file
// (never nlohmann's bare "type must be number, but is string").
#include <nlohmann/json.hpp>

#include <filesystem>

namespace mme {

// The whole file parsed; "cannot open" or "not valid JSON: ..." otherwise.
nlohmann::json read_json_file(const std::filesystem::path& file);

// object[key] as an int: a FileError when `object` is not an object, the key is missing, or the
// value is not a whole number within int's range (a float such as 1e119 is refused here rather
// than converted, which would be undefined).
int json_int(const nlohmann::json& object, const char* key, const std::filesystem::path& file);

}  // namespace mme
