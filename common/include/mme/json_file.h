#pragma once
// The JSON files the tools leave for each other (flowgen.json, trajgen's config.json, index.json,
// a run's config.json): they may come from another version, another user or a damaged copy, so
// every failure to read one, or a value of the wrong type in it, is a FileError naming the file
// (never nlohmann's bare "type must be number, but is string").
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <string_view>

namespace mme {

// JSON text of values whose strings may hold file names that are not UTF-8 (video ids, paths,
// reasons naming a file): names are bytes on Linux, and JSON is UTF-8. Each byte that is not part
// of a valid UTF-8 sequence is written as an unpaired low surrogate escape "\udcXX" (XX = the
// byte, 80..ff): Python's surrogateescape (PEP 383), so Python's json gives back a str that
// os.fsencode() and open() turn into the exact bytes; parse_json reads it back the same way.
// Valid UTF-8 is written as nlohmann writes it. Use these for every file the tools write that
// carries names (manifests, index.json, failure lists, skipped.json, reports).
std::string dump_json(const nlohmann::json& value, int indent = -1);
// Throws nlohmann::json::parse_error like nlohmann::json::parse.
nlohmann::json parse_json(std::string_view text);
// The length of the valid UTF-8 sequence at the start of `text`, 0 if it does not start with one.
std::size_t utf8_sequence_length(std::string_view text);
bool valid_utf8(std::string_view text);

// The whole file parsed (parse_json); "cannot open" or "not valid JSON: ..." otherwise.
nlohmann::json read_json_file(const std::filesystem::path& file);

// object[key] as an int: a FileError when `object` is not an object, the key is missing, or the
// value is not a whole number within int's range (a float such as 1e119 is refused here rather
// than converted, which would be undefined).
int json_int(const nlohmann::json& object, const char* key, const std::filesystem::path& file);

}  // namespace mme
