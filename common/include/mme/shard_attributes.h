#pragma once
// Attributes on a shard's root, a group or a dataset: scalars, strings and lists, by name or by
// their typed name from mme/shard_schema.h (which fixes the type at compile time).
#include <mme/shard_schema.h>

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

namespace mme {

namespace detail {
struct Handle;  // RAII owner of one hid_t (common/src/hdf5_object.h)
}

class AttributeWriter {
 public:
  void set(const std::string& name, const std::string& value);
  void set(const std::string& name, const char* value) { set(name, std::string(value)); }
  void set(const std::string& name, std::int64_t value);
  void set(const std::string& name, int value) { set(name, static_cast<std::int64_t>(value)); }
  void set(const std::string& name, double value);
  void set(const std::string& name, const std::vector<std::int64_t>& values);
  void set(const std::string& name, const std::vector<double>& values);
  template <typename T>
  void set(const schema::Attribute<T>& attribute, const std::type_identity_t<T>& value) {
    set(std::string(attribute.name), value);
  }

 protected:
  explicit AttributeWriter(std::shared_ptr<detail::Handle> object) : object_(std::move(object)) {}
  std::shared_ptr<detail::Handle> object_;
};

class AttributeReader {
 public:
  bool has(const std::string& name) const;
  template <typename T>
  bool has(const schema::Attribute<T>& attribute) const {
    return has(std::string(attribute.name));
  }
  std::vector<std::string> names() const;
  // Each throws std::runtime_error naming the object and the attribute when it is missing or of
  // another type.
  std::string get_string(const std::string& name) const;
  std::int64_t get_int(const std::string& name) const;
  double get_double(const std::string& name) const;
  std::vector<std::int64_t> get_ints(const std::string& name) const;
  std::vector<double> get_doubles(const std::string& name) const;
  template <typename T>
  T get(const schema::Attribute<T>& attribute) const;

 protected:
  explicit AttributeReader(std::shared_ptr<detail::Handle> object) : object_(std::move(object)) {}
  std::shared_ptr<detail::Handle> object_;
};

template <typename T>
T AttributeReader::get(const schema::Attribute<T>& attribute) const {
  const std::string name = attribute.name;
  if constexpr (std::is_same_v<T, std::string>)
    return get_string(name);
  else if constexpr (std::is_same_v<T, std::int64_t>)
    return get_int(name);
  else if constexpr (std::is_same_v<T, double>)
    return get_double(name);
  else if constexpr (std::is_same_v<T, std::vector<std::int64_t>>)
    return get_ints(name);
  else
    return get_doubles(name);
}

}  // namespace mme
