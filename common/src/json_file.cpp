#include <mme/error.h>
#include <mme/json_file.h>

#include <fmt/format.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>

namespace mme {

std::size_t utf8_sequence_length(std::string_view text) {
  if (text.empty()) return 0;
  const auto b = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const auto cont = [&](std::size_t i, unsigned lo = 0x80, unsigned hi = 0xBF) {
    return i < text.size() && b(i) >= lo && b(i) <= hi;
  };
  const unsigned c = b(0);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c == 0xE0) return cont(1, 0xA0) && cont(2) ? 3 : 0;
  if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) return cont(1) && cont(2) ? 3 : 0;
  if (c == 0xED) return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;  // no surrogates
  if (c == 0xF0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xF1 && c <= 0xF3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c == 0xF4) return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

bool valid_utf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const auto n = utf8_sequence_length(text.substr(i));
    if (n == 0) return false;
    i += n;
  }
  return true;
}

namespace {

// Strings pass nlohmann's writer and reader as UTF-8 with markers: NUL (which no file name holds,
// and which nlohmann writes as \u0000) and two hex digits, "00" for a NUL of the text itself or
// the byte that is not UTF-8. The JSON text then turns the markers into \udcXX, or back.
constexpr char kHex[] = "0123456789abcdef";

std::string mark(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    const auto n = utf8_sequence_length(text.substr(i));
    if (n > 0 && text[i] != '\0') {
      out.append(text, i, n);
      i += n;
      continue;
    }
    const auto byte = static_cast<unsigned char>(text[i++]);
    out += '\0';
    out += kHex[byte >> 4];
    out += kHex[byte & 15];
  }
  return out;
}

std::string unmark(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\0' && i + 2 < text.size()) {
      out += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

bool has(const nlohmann::json& value, bool (*test)(const std::string&)) {
  if (value.is_string()) return test(value.get_ref<const std::string&>());
  if (value.is_object()) {
    for (const auto& [key, v] : value.items())
      if (test(key) || has(v, test)) return true;
  } else if (value.is_array()) {
    for (const auto& v : value)
      if (has(v, test)) return true;
  }
  return false;
}

nlohmann::json map_strings(const nlohmann::json& value, std::string (*f)(const std::string&)) {
  if (value.is_string()) return f(value.get_ref<const std::string&>());
  if (value.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [key, v] : value.items()) out[f(key)] = map_strings(v, f);
    return out;
  }
  if (value.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& v : value) out.push_back(map_strings(v, f));
    return out;
  }
  return value;
}

// The value of four hex digits, -1 if they are not.
int hex4(std::string_view digits) {
  int value = 0;
  for (const char c : digits) {
    const int d = c >= '0' && c <= '9'   ? c - '0'
                  : c >= 'a' && c <= 'f' ? c - 'a' + 10
                  : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                         : -1;
    if (d < 0) return -1;
    value = value * 16 + d;
  }
  return value;
}

}  // namespace

std::string dump_json(const nlohmann::json& value, int indent) {
  const auto needs_marks = [](const std::string& s) { return !valid_utf8(s) || s.find('\0') != std::string::npos; };
  if (!has(value, needs_marks)) return value.dump(indent);
  const std::string text = map_strings(value, [](const std::string& s) { return mark(s); }).dump(indent);
  // "\u0000HH" -> "\udcHH" (a byte) or "\u0000" (a NUL); escaped backslashes ("\\") are skipped.
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size() && text[i + 1] == '\\') {
      out += "\\\\";
      ++i;
    } else if (text.compare(i, 6, "\\u0000") == 0 && i + 7 < text.size()) {
      const std::string hex = text.substr(i + 6, 2);
      out += hex == "00" ? "\\u0000" : "\\udc" + hex;
      i += 7;
    } else {
      out += text[i];
    }
  }
  return out;
}

nlohmann::json parse_json(std::string_view text) {
  // Fast path: no escape that could be a NUL or a lone surrogate.
  if (text.find("\\u") == std::string_view::npos) return nlohmann::json::parse(text);
  std::string marked;
  marked.reserve(text.size());
  bool high_before = false;  // the previous escape was a high surrogate: a low one pairs with it
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\' || i + 1 >= text.size()) {
      marked += text[i];
      high_before = false;
      continue;
    }
    if (text[i + 1] != 'u' || i + 5 >= text.size()) {  // another escape ("\\", "\n"...)
      marked.append(text, i, 2);
      ++i;
      high_before = false;
      continue;
    }
    const int code = hex4(text.substr(i + 2, 4));
    if (code == 0) {
      marked += "\\u000000";
    } else if (code >= 0xDC80 && code <= 0xDCFF && !high_before) {
      marked += "\\u0000";
      marked += kHex[(code >> 4) & 15];
      marked += kHex[code & 15];
    } else {
      marked.append(text, i, 6);
    }
    high_before = code >= 0xD800 && code <= 0xDBFF;
    i += 5;
  }
  const auto parsed = nlohmann::json::parse(marked);
  const auto marked_string = [](const std::string& s) { return s.find('\0') != std::string::npos; };
  if (!has(parsed, marked_string)) return parsed;
  return map_strings(parsed, [](const std::string& s) { return unmark(s); });
}

nlohmann::json read_json_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw FileError(file, "cannot open");
  try {
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return parse_json(text);
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
