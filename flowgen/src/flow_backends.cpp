#include <flowgen/backend_module.h>
#include <flowgen/flow_backend.h>

#include <stdexcept>

namespace flowgen {

// Each backend file defines its factory; this registry is the one place that lists them.
std::unique_ptr<FlowBackend> make_dis_backend(int preset);
std::unique_ptr<FlowBackend> make_farneback_backend();
std::unique_ptr<FlowBackend> make_mv_backend();

const std::vector<BackendInfo>& flow_backends() {
  auto plain = [](auto make) { return [make](const BackendOptions&) { return make(); }; };
  // A backend of a module (backend_module.h), opened at its first use.
  auto from_module = [](const char* module, const char* backend) {
    return [module, backend](const BackendOptions& o) {
      return std::unique_ptr<FlowBackend>(backend_module(module)(backend, o));
    };
  };
  static const std::vector<BackendInfo> backends = {
      {"dis-ultrafast", "OpenCV DIS, ultrafast preset", false, plain([] { return make_dis_backend(0); })},
      {"dis-fast", "OpenCV DIS, fast preset (default)", false, plain([] { return make_dis_backend(1); })},
      {"dis-medium", "OpenCV DIS, medium preset", false, plain([] { return make_dis_backend(2); })},
      {"farneback", "OpenCV Farneback (the MME public code's algorithm)", false, plain(make_farneback_backend), true},
      {"tvl1", "OpenCV contrib Dual TV-L1 (slow, accurate)", false, from_module("flowgen_tvl1", "tvl1"), true},
      {"tvl1-gpu", "Dual TV-L1 in LibTorch, batched over pairs (--device cuda:N; runs on cpu too)", false,
       from_module("flowgen_tvl1_gpu", "tvl1-gpu"), true, true},
      {"mv", "codec motion vectors painted over their blocks (free, coarse)", true, plain(make_mv_backend)},
  };
  return backends;
}

std::vector<std::string> dense_flow_backends() {
  std::vector<std::string> names;
  for (const auto& b : flow_backends())
    if (!b.needs_motion_vectors) names.push_back(b.name);
  return names;
}

const BackendInfo& flow_backend(const std::string& name) {
  for (const auto& b : flow_backends())
    if (b.name == name) return b;
  std::string known;
  for (const auto& b : flow_backends()) known += (known.empty() ? "" : ", ") + b.name;
  throw std::invalid_argument("unknown flow algorithm '" + name + "' (known: " + known + ")");
}

}  // namespace flowgen
