#pragma once
// LibTorch's errors (c10::Error) carry a C++ backtrace in what(); users need only the message.
#include <c10/util/Exception.h>

#include <exception>
#include <string>

namespace trainer {

inline std::string error_message(const std::exception& e) {
  if (const auto* c = dynamic_cast<const c10::Error*>(&e)) return c->what_without_backtrace();
  return e.what();
}

}  // namespace trainer
