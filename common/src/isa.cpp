#include <mme/isa.h>

#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace mme::isa {
namespace {

Level detect() {
#if MME_HAVE_X86_64_V3
  __builtin_cpu_init();
  if (__builtin_cpu_supports("x86-64-v3")) return Level::x86_64_v3;
#endif
  return Level::baseline;
}

std::atomic<Level>& chosen() {
  static std::atomic<Level> level = [] {
    const char* env = std::getenv("MME_ISA");
    return env && std::string(env) == "baseline" ? Level::baseline : supported();
  }();
  return level;
}

}  // namespace

Level supported() {
  static const Level level = detect();
  return level;
}

Level active() {
  return chosen().load(std::memory_order_relaxed);
}

void use(Level level) {
  if (level == Level::x86_64_v3 && supported() != Level::x86_64_v3)
    throw std::invalid_argument("isa: this CPU (or this build) has no x86-64-v3");
  chosen().store(level, std::memory_order_relaxed);
}

const char* name(Level level) {
  return level == Level::x86_64_v3 ? "x86-64-v3" : "baseline";
}

}  // namespace mme::isa
